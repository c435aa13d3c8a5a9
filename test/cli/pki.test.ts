// `certbound pki init`: the files it writes, their modes, what openssl makes of them, and what git
// makes of the folder.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { killAll, makeTempDir, removeTempDir, runCli, tool, type RunResult } from './run.js';

const EXPECTED_FILES = [
  'ca.crt',
  'ca.key',
  'sts.crt',
  'sts.key',
  'server.crt',
  'server.key',
  'grpc.crt',
  'grpc.key',
  'alice.crt',
  'alice.key',
  'bob.crt',
  'bob.key',
  'jwt.key',
  'jwks.json',
  'sts.yaml',
];
const LEAVES = ['sts', 'server', 'grpc', 'alice', 'bob'];

let dir: string | undefined;
let out = '';
let init: RunResult;
const file = (name: string): string => join(out, name);
const openssl = (...args: string[]): string => tool('openssl', args).toString('utf8');

interface DevConfig {
  issuer: string;
  signing: { kid: string; key: string };
  policy: { subject_tokens: { subject: string; audiences: string[] }[] };
}

before(async () => {
  dir = await makeTempDir('pki');
  out = join(dir, 'pki'); // does not exist yet: pki init creates it
  init = await runCli(['pki', 'init', '--out', out]);
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

test('pki init exits 0 and says what it wrote', () => {
  assert.equal(init.code, 0, init.stderr);
  assert.equal(init.stderr, '');
  assert.ok(init.stdout.includes(`wrote ${EXPECTED_FILES.length} files to ${out}\n`), init.stdout);
});

test('pki init writes exactly the dev PKI files and a .gitignore', async () => {
  assert.deepEqual((await readdir(out)).sort(), [...EXPECTED_FILES, '.gitignore'].sort());
  assert.ok(init.stdout.includes(`wrote ${join(out, '.gitignore')} ("*"): git ignores this folder`), init.stdout);
});

/** `git ARGS` in `cwd`, ignoring the user's global excludes, which could hide what we look for. */
const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'core.excludesFile=/dev/null', ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 10_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });

test('pki init --out certs inside a git repository adds nothing git would pick up', async () => {
  const repo = join(dir ?? '', 'repo');
  await mkdir(repo);
  git(repo, 'init', '--quiet');
  const result = await runCli(['pki', 'init', '--out', 'certs'], { cwd: repo });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(git(repo, 'status', '--porcelain', '--untracked-files=all'), '');
  // The .gitignore is what hides the keys: without it git sees them.
  await rm(join(repo, 'certs', '.gitignore'));
  assert.match(git(repo, 'status', '--porcelain', '--untracked-files=all'), /^\?\? certs\/ca\.key$/m);
});

test('pki init keeps an existing .gitignore and writes none into a folder with other files', async () => {
  const own = join(dir ?? '', 'own-ignore');
  await mkdir(own);
  await writeFile(join(own, '.gitignore'), '*.key\n');
  const kept = await runCli(['pki', 'init', '--out', own]);
  assert.equal(kept.code, 0, kept.stderr);
  assert.equal(await readFile(join(own, '.gitignore'), 'utf8'), '*.key\n');
  assert.match(kept.stdout, /kept the existing .*\.gitignore/);

  // `--out .` at a repository's root: "*" there would hide the whole repository.
  const repo = join(dir ?? '', 'root-repo');
  await mkdir(repo);
  git(repo, 'init', '--quiet');
  await writeFile(join(repo, 'README.md'), '# mine\n');
  const shared = await runCli(['pki', 'init', '--out', '.'], { cwd: repo });
  assert.equal(shared.code, 0, shared.stderr);
  assert.deepEqual(
    (await readdir(repo)).filter((name) => name === '.gitignore'),
    [],
  );
  assert.match(shared.stdout, /wrote no \.gitignore: .* holds other files too \(\.git, README\.md\)/);
  assert.match(git(repo, 'status', '--porcelain'), /^\?\? README\.md$/m);
});

test('every private key is mode 0600', async () => {
  for (const name of EXPECTED_FILES.filter((n) => n.endsWith('.key'))) {
    const mode = (await stat(file(name))).mode & 0o777;
    assert.equal(mode, 0o600, `${name} has mode ${mode.toString(8)}`);
  }
});

test('openssl verifies every leaf certificate against ca.crt', () => {
  for (const leaf of LEAVES) {
    assert.match(openssl('verify', '-CAfile', file('ca.crt'), file(`${leaf}.crt`)), /: OK\s*$/, `${leaf}.crt`);
  }
});

test('server certificates carry their domain name, localhost and 127.0.0.1', () => {
  for (const name of ['sts', 'server', 'grpc']) {
    const san = openssl('x509', '-noout', '-ext', 'subjectAltName', '-in', file(`${name}.crt`));
    assert.match(san, new RegExp(`DNS:${name}\\.domain\\.com\\b`), `${name}.crt SAN: ${san}`);
    assert.match(san, /DNS:localhost\b/, `${name}.crt SAN: ${san}`);
    assert.match(san, /IP Address:127\.0\.0\.1\b/, `${name}.crt SAN: ${san}`);
  }
});

test('client certificates are issued to alice and bob', () => {
  for (const name of ['alice', 'bob']) {
    const subject = openssl('x509', '-noout', '-subject', '-in', file(`${name}.crt`));
    assert.match(subject, new RegExp(`CN\\s*=\\s*${name}(,|\\s*$)`, 'm'), subject);
  }
});

test('the generated sts.yaml passes --check-config', async () => {
  const result = await runCli(['sts', '--config', file('sts.yaml'), '--check-config']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /: ok \(issuer https:\/\/sts\.domain\.com:8081, /);
});

test('sts.yaml has the dev issuer, audience and the kid of jwks.json', async () => {
  const config = parseYaml(await readFile(file('sts.yaml'), 'utf8')) as DevConfig;
  assert.equal(config.issuer, 'https://sts.domain.com:8081');
  const subjects = config.policy.subject_tokens.map((token) => token.subject).sort();
  assert.deepEqual(subjects, ['alice', 'bob']);
  for (const token of config.policy.subject_tokens)
    assert.ok(token.audiences.includes('https://server.domain.com:8443'), `${token.subject}: ${token.audiences.join(', ')}`);

  const jwks = JSON.parse(await readFile(file('jwks.json'), 'utf8')) as {
    keys: { kid?: string; kty?: string; crv?: string; d?: string }[];
  };
  assert.equal(jwks.keys.length, 1);
  const [key] = jwks.keys;
  assert.equal(key?.kid, config.signing.kid);
  assert.equal(key?.kty, 'EC');
  assert.equal(key?.crv, 'P-256');
  assert.equal(key?.d, undefined, 'jwks.json must not contain the private key');
});

test('jwt.key is a P-256 key', () => {
  const text = openssl('pkey', '-in', file('jwt.key'), '-noout', '-text');
  assert.match(text, /prime256v1|P-256/, text);
});
