// Checks the package as npm would publish it: packs it (prepack builds), lints the tarball with
// publint and Are the Types Wrong, installs it into a fresh project from the registry and loads
// every subpath export there. Run with `npm run check:package`; .ci/run runs it after `npm ci`.
//
// attw runs with --profile esm-only: certbound is an ES module package ("type": "module", exports
// without "require" conditions), so TypeScript's node10 resolution (no "exports" support) and
// require() from CommonJS under node16 are reported as failures by the default profile. Those are
// the package's choice, not a mistake in its types; every ESM resolution (node16/nodenext from
// ESM, bundler) must still be clean.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
// Subpaths that need optional peer dependencies to load; every other subpath loads without any.
const PEERS_NEEDED = { './grpc': ['@grpc/grpc-js'] };
// Subpaths that install reflect-metadata on the global Reflect (test/unit/architecture.test.ts).
const SET_REFLECT = new Set(['./sts', './pki']);

const work = mkdtempSync(join(tmpdir(), 'certbound-package-'));
let failed = false;

function run(command, args, options = {}) {
  console.log(`$ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) throw new Error(`${command} exited with ${result.status ?? result.signal}`);
  return result;
}

/** Imports `specifier` in a fresh node process in `dir`; returns what it printed, or the error. */
function load(dir, specifier) {
  const script = `import(${JSON.stringify(specifier)}).then((ns) => console.log(JSON.stringify({ exports: Object.keys(ns).length, reflect: typeof Reflect.getMetadata })))`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0)
    return {
      error:
        result.stderr
          .trim()
          .split('\n')
          .find((line) => /Error/.test(line)) ?? result.stderr.trim(),
    };
  return JSON.parse(result.stdout);
}

function check(condition, message) {
  console.log(`${condition ? 'ok' : 'FAIL'}: ${message}`);
  if (!condition) failed = true;
}

try {
  console.log('== npm pack');
  run('npm', ['pack', '--pack-destination', work], { cwd: root });
  const tarballs = readdirSync(work).filter((name) => name.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new Error(`expected one tarball in ${work}, found ${tarballs.join(', ') || 'none'}`);
  const tarball = join(work, tarballs[0]);

  console.log('== publint');
  run(bin('publint'), ['run', tarball, '--strict']);

  console.log('== attw (esm-only profile)');
  run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped', '--no-emoji', '--no-color']);

  console.log('== install into a fresh project, without the optional peers');
  const consumer = join(work, 'consumer');
  mkdirSync(consumer);
  // The same install-script policy as this repository's package.json.
  writeFileSync(
    join(consumer, 'package.json'),
    `${JSON.stringify({ name: 'certbound-consumer', private: true, type: 'module', allowScripts: { protobufjs: false } }, null, 2)}\n`,
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: consumer });
  const manifest = JSON.parse(readFileSync(join(consumer, 'node_modules', 'certbound', 'package.json'), 'utf8'));
  const subpaths = Object.keys(manifest.exports).filter((subpath) => subpath !== './package.json');
  const specifier = (subpath) => (subpath === '.' ? manifest.name : `${manifest.name}${subpath.slice(1)}`);

  // Importing the core leaves the global Reflect alone (no reflect-metadata polyfill).
  const core = spawnSync(process.execPath, ['-e', "import('certbound').then(()=>console.log(typeof Reflect.getMetadata))"], {
    cwd: consumer,
    encoding: 'utf8',
    timeout: 30_000,
  });
  check(
    core.status === 0 && core.stdout.trim() === 'undefined',
    `import('certbound') prints typeof Reflect.getMetadata = ${JSON.stringify(core.stdout.trim())} (want "undefined")${core.status === 0 ? '' : `: ${core.stderr.trim()}`}`,
  );

  const verify = (subpath) => {
    const outcome = load(consumer, specifier(subpath));
    if ('error' in outcome) return check(false, `${specifier(subpath)} loads: ${outcome.error}`);
    check(outcome.exports > 0, `${specifier(subpath)} loads, ${outcome.exports} exports`);
    const wantReflect = SET_REFLECT.has(subpath) ? 'function' : 'undefined';
    check(outcome.reflect === wantReflect, `${specifier(subpath)}: typeof Reflect.getMetadata is ${outcome.reflect} (want ${wantReflect})`);
  };
  for (const subpath of subpaths.filter((subpath) => PEERS_NEEDED[subpath] === undefined)) verify(subpath);
  // dist/src has source maps and declaration maps (go to definition): their sources must ship too.
  const installed = join(consumer, 'node_modules', manifest.name);
  const maps = readdirSync(installed, { recursive: true }).filter((file) => file.endsWith('.map'));
  const missing = maps.flatMap((file) => {
    const map = JSON.parse(readFileSync(join(installed, file), 'utf8'));
    return map.sources
      .map((source) => join(dirname(file), map.sourceRoot ?? '', source))
      .filter((source) => !existsSync(join(installed, source)));
  });
  check(
    maps.length > 0 && missing.length === 0,
    `the sources of ${maps.length} source maps are in the package${missing.length === 0 ? '' : `; missing: ${[...new Set(missing)].slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`}`,
  );
  const binary = spawnSync(join(consumer, 'node_modules', '.bin', 'certbound'), ['--version'], {
    cwd: consumer,
    encoding: 'utf8',
    timeout: 30_000,
  });
  check(
    binary.status === 0 && binary.stdout.trim() === manifest.version,
    `the certbound binary runs: --version prints ${JSON.stringify(binary.stdout.trim())}`,
  );

  console.log('== with the optional peers installed');
  const peers = Object.entries(manifest.peerDependencies ?? {}).map(([name, range]) => `${name}@${range}`);
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...peers], { cwd: consumer });
  for (const subpath of subpaths.filter((subpath) => PEERS_NEEDED[subpath] !== undefined)) verify(subpath);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  failed = true;
}

if (failed) {
  console.error(`check-package: FAILED (the tarball and the test project are left in ${work})`);
  process.exit(1);
}
rmSync(work, { recursive: true, force: true });
console.log('check-package: the packed tarball passes publint and attw, and every subpath export loads from an install of it');
