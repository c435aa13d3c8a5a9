// `certbound pki init`: the files it writes, their modes, and what openssl makes of them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
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

test('pki init writes exactly the dev PKI files', async () => {
  assert.deepEqual((await readdir(out)).sort(), [...EXPECTED_FILES].sort());
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
