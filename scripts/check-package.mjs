// Checks the package as npm would publish it: packs it (prepack builds), checks the tarball's file
// list, checks that `npm ci` of this repository warns of no unsupported engine, lints the tarball
// with publint and Are the Types Wrong, installs it into a fresh project from the registry (no
// EBADENGINE warning either) and loads every subpath export there. Run with
// `npm run check:package`; .ci/run runs it after `npm ci`. Last, with TypeScript added to that
// project, every TypeScript example of README.md and docs/ compiles there and the README's
// library examples run there (the code of test/docs/, built by the pack).
//
// The file list: the legal and user-facing files are in (LICENSE, CHANGELOG.md, which README.md
// links), every relative link in a shipped Markdown file resolves inside the package, and nothing
// ships that is not in ALLOWED. No source maps ship (tsconfig.json builds none): they pointed at
// src/*.ts, and shipping the sources as well would double the package for a debugger's sake.
//
// attw runs with --profile esm-only: certbound is an ES module package ("type": "module", exports
// without "require" conditions), so TypeScript's node10 resolution (no "exports" support) and
// require() from CommonJS under node16 are reported as failures by the default profile. Those are
// the package's choice, not a mistake in its types; every ESM resolution (node16/nodenext from
// ESM, bundler) must still be clean.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
// Subpaths that need optional peer dependencies to load; every other subpath loads without any.
const PEERS_NEEDED = { './grpc': ['@grpc/grpc-js'] };
// Subpaths that install reflect-metadata on the global Reflect (test/unit/architecture.test.ts).
const SET_REFLECT = new Set(['./sts', './pki']);
// Files the tarball must hold, and the only files it may hold.
const REQUIRED = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'SECURITY.md'];
const ALLOWED = [
  /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|SECURITY\.md)$/,
  /^docs\/[\w-]+\.md$/,
  /^proto\/[\w/-]+\.proto$/,
  /^dist\/src\/[\w/-]+\.(js|d\.ts)$/,
];

const work = mkdtempSync(join(tmpdir(), 'certbound-package-'));
let failed = false;

function run(command, args, options = {}) {
  console.log(`$ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) throw new Error(`${command} exited with ${result.status ?? result.signal}`);
  return result;
}

/** `npx certbound demo` in the consumer project: exit 0, `passes` steps passed, and `ending` said. */
function demo(dir, passes, ending) {
  const result = spawnSync('npx', ['--no-install', 'certbound', 'demo'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  const passed = result.stdout.split('\n').filter((line) => line.trim() === 'PASS').length;
  check(
    result.status === 0 && passed === passes && ending.test(result.stdout),
    `npx certbound demo exits 0 with ${passes} steps passed (exit ${result.status}, ${passed} passed)${result.status === 0 ? '' : `: ${result.stdout.slice(-600)}${result.stderr.slice(-600)}`}`,
  );
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

/** Like run(), but captures what the command printed (and still shows it), to look for warnings. */
function runCaptured(command, args, options = {}) {
  console.log(`$ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (result.status !== 0) throw new Error(`${command} exited with ${result.status ?? result.signal}`);
  return `${result.stdout}${result.stderr}`;
}

/** ': cookie@2.0.2, ...' for the packages npm's output `log` warns EBADENGINE about, or ''. */
function engines(log) {
  if (!/EBADENGINE/.test(log)) return '';
  const packages = new Set([...log.matchAll(/EBADENGINE\s+package: '([^']+)'/g)].map((match) => match[1]));
  return `: ${[...packages].join(', ') || 'EBADENGINE'}`;
}

/** The first few items of a list, for a message. */
const some = (items) => `${items.slice(0, 5).join(', ')}${items.length > 5 ? `, ... (${items.length})` : ''}`;

/**
 * Relative link targets in Markdown `text` (inline links and reference definitions), without
 * #fragments. Fenced code blocks and code spans are left out first: `[key]: value` in a code
 * sample is not a link.
 */
function relativeLinks(markdown) {
  const text = markdown.replace(/^ {0,3}(`{3,}|~{3,})[^]*?^ {0,3}\1/gm, '').replace(/`[^`\n]*`/g, '');
  const targets = [...text.matchAll(/\]\(<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g), ...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)];
  return targets.map((match) => match[1].split('#')[0]).filter((target) => target !== '' && !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

try {
  console.log('== npm pack');
  run('npm', ['pack', '--pack-destination', work], { cwd: root });
  const tarballs = readdirSync(work).filter((name) => name.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new Error(`expected one tarball in ${work}, found ${tarballs.join(', ') || 'none'}`);
  const tarball = join(work, tarballs[0]);

  console.log("== the tarball's file list");
  const listing = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
  if (listing.status !== 0) throw new Error(`tar -tzf ${tarball} exited with ${listing.status ?? listing.signal}: ${listing.stderr}`);
  const shipped = listing.stdout
    .split('\n')
    .filter((entry) => entry !== '' && !entry.endsWith('/'))
    .map((entry) => entry.replace(/^package\//, ''));
  const missingFiles = REQUIRED.filter((file) => !shipped.includes(file));
  check(
    missingFiles.length === 0,
    `the tarball holds ${REQUIRED.join(', ')}${missingFiles.length === 0 ? '' : `; missing: ${missingFiles.join(', ')}`}`,
  );
  const maps = shipped.filter((file) => file.endsWith('.map'));
  check(maps.length === 0, `no source maps in the tarball${maps.length === 0 ? '' : `: ${some(maps)}`}`);
  const unexpected = shipped.filter((file) => !ALLOWED.some((pattern) => pattern.test(file)));
  check(
    unexpected.length === 0,
    `all ${shipped.length} files are in the allowed set${unexpected.length === 0 ? '' : `; not: ${some(unexpected)}`}`,
  );

  console.log("== this repository's own install: npm ci --dry-run on a copy of package.json and the lock file");
  // What `npm ci` in a clone warns about (fastify pulled cookie@2, Node >= 22, until "overrides"
  // pinned light-my-request): --dry-run resolves the lock file and checks engines, installs nothing.
  const lockCopy = join(work, 'repository');
  mkdirSync(lockCopy);
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(root, file), join(lockCopy, file));
  const ciLog = runCaptured('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: lockCopy });
  check(!/EBADENGINE/.test(ciLog), `npm ci under node ${process.version} warns of no unsupported engine${engines(ciLog)}`);

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
  const installLog = runCaptured('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: consumer });
  check(
    !/EBADENGINE/.test(installLog),
    `installing the tarball under node ${process.version} warns of no unsupported engine${engines(installLog)}`,
  );
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
  // No map ships, so no file may name one: bundlers and debuggers warn about a missing map.
  const installed = join(consumer, 'node_modules', manifest.name);
  const code = readdirSync(installed, { recursive: true }).filter((file) => /\.(js|d\.ts)$/.test(file));
  const mapComments = code.filter((file) => /^\/\/# sourceMappingURL=/m.test(readFileSync(join(installed, file), 'utf8')));
  check(mapComments.length === 0, `no shipped file names a source map${mapComments.length === 0 ? '' : `: ${some(mapComments)}`}`);
  // README.md links CHANGELOG.md, LICENSE and docs/: every relative link must resolve in the package.
  const broken = shipped
    .filter((file) => file.endsWith('.md'))
    .flatMap((file) =>
      relativeLinks(readFileSync(join(installed, file), 'utf8'))
        .map((target) => join(dirname(file), decodeURIComponent(target)))
        .filter((target) => !existsSync(join(installed, target)))
        .map((target) => `${file} -> ${target}`),
    );
  check(
    broken.length === 0,
    `every relative link in the shipped Markdown files resolves in the package${broken.length === 0 ? '' : `; broken: ${some(broken)}`}`,
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

  // npx, as a new user would: the HTTPS half of the demo needs none of the optional gRPC packages.
  demo(consumer, 6, /The 4 gRPC steps did not run: .*npm install @grpc\/grpc-js/);

  console.log('== with the optional peers installed');
  const peers = Object.entries(manifest.peerDependencies ?? {}).map(([name, range]) => `${name}@${range}`);
  // Not a failure: the peers' own dependencies are the consumer's choice (this repository's
  // "overrides" pin fastify's light-my-request for itself only), but say so.
  const peersLog = runCaptured('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...peers], { cwd: consumer });
  if (/EBADENGINE/.test(peersLog))
    console.log(`note: installing the optional peers warns EBADENGINE under node ${process.version}${engines(peersLog)}`);
  for (const subpath of subpaths.filter((subpath) => PEERS_NEEDED[subpath] !== undefined)) verify(subpath);
  demo(consumer, 10, /All 10 steps behaved as expected/);

  console.log('== the README and docs examples, against the installed package');
  // The compiler and the types a TypeScript user adds, and the clients docs/interop.md uses, at
  // this repository's versions.
  const installedVersion = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  const typing = ['typescript', '@types/node', '@types/express', 'openid-client', 'oauth4webapi'].map(
    (name) => `${name}@${installedVersion(name)}`,
  );
  runCaptured('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--save-dev', ...typing], { cwd: consumer });
  const docs = (module) => import(pathToFileURL(join(root, 'dist', 'test', 'docs', module)).href);
  const { compileExamples } = await docs('compile-examples.js');
  const failures = await compileExamples(consumer, join(consumer, 'node_modules', 'typescript', 'bin', 'tsc'));
  check(
    failures.length === 0,
    `every TypeScript example of README.md and docs/ compiles against the tarball${failures.length === 0 ? '' : `:\n${failures.join('\n')}`}`,
  );
  const { runReadmeExamples } = await docs('run-readme-examples.js');
  const ran = await runReadmeExamples(consumer, [join(consumer, 'node_modules', '.bin', 'certbound')]).then(
    () => '',
    (error) => (error instanceof Error ? error.message : String(error)),
  );
  check(ran === '', `the README library examples run against the tarball${ran === '' ? '' : `: ${ran}`}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  failed = true;
}

if (failed) {
  console.error(`check-package: FAILED (the tarball and the test project are left in ${work})`);
  process.exit(1);
}
rmSync(work, { recursive: true, force: true });
console.log(
  "check-package: the packed tarball's file list is as expected, it passes publint and attw, and every subpath export loads from an install of it",
);
