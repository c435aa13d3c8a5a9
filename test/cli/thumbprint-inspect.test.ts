// `certbound thumbprint` against openssl, and `certbound inspect` on a real token from the STS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli, startServer, tool, type CliServer } from './run.js';

let dir: string | undefined;
let sts: CliServer | undefined;
let token = '';
const file = (name: string): string => join(dir as string, 'pki', name);

before(async () => {
  dir = await makeTempDir('inspect');
  await pkiInit(join(dir, 'pki'));
  sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
  const result = await runCli([
    'token',
    '--sts',
    sts.url,
    '--tls-ca',
    file('ca.crt'),
    '--tls-cert',
    file('alice.crt'),
    '--tls-key',
    file('alice.key'),
    '--subject-token',
    'iamtheeggman',
    '--audience',
    'https://server.domain.com:8443',
    '--scope',
    'read',
  ]);
  assert.equal(result.code, 0, result.stderr);
  token = (JSON.parse(result.stdout) as { access_token: string }).access_token;
});

after(async () => {
  try {
    if (sts !== undefined) assert.equal((await sts.stop()).code, 0, 'sts exits 0 on SIGTERM');
  } finally {
    await killAll();
    await removeTempDir(dir);
  }
});

test('thumbprint prints the base64url SHA-256 of the DER certificate, as openssl computes it', async () => {
  const der = tool('openssl', ['x509', '-in', file('alice.crt'), '-outform', 'DER']);
  const digest = tool('openssl', ['dgst', '-sha256', '-binary'], der);
  const base64 = tool('openssl', ['base64', '-A'], digest).toString('utf8').trim();
  const expected = base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

  const result = await runCli(['thumbprint', file('alice.crt')]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  assert.equal(result.stdout, `${expected}\n`);
  assert.match(expected, /^[A-Za-z0-9_-]{43}$/);
});

test('inspect --cert with the certificate the token is bound to: yes, exit 0', async () => {
  const cert = file('alice.crt');
  const thumbprint = (await runCli(['thumbprint', cert])).stdout.trim();
  const result = await runCli(['inspect', token, '--cert', cert]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  assert.ok(result.stdout.includes(`bound to ${cert}: yes`), result.stdout);
  assert.ok(result.stdout.includes(`bound to certificate x5t#S256: ${thumbprint}`), result.stdout);
  assert.match(result.stdout, /"sub": "alice"/);
  assert.match(result.stdout, /"iss": "https:\/\/sts\.domain\.com:8081"/);
});

test('inspect --cert with another certificate: NO, exit 1 (refused, not bad input)', async () => {
  const cert = file('bob.crt');
  const result = await runCli(['inspect', token, '--cert', cert]);
  assert.equal(result.code, 1, result.stderr);
  assert.ok(result.stdout.includes(`bound to ${cert}: NO`), result.stdout);
  assert.doesNotMatch(result.stdout, /: yes/);
  const stderr = result.stderr.trimEnd().split('\n');
  assert.equal(stderr.length, 1, result.stderr);
  assert.ok(stderr[0]?.startsWith('certbound: '), result.stderr);
});

test('inspect - reads the token from stdin', async () => {
  const fromArg = await runCli(['inspect', token]);
  const fromStdin = await runCli(['inspect', '-'], { input: `${token}\n` });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  assert.equal(fromStdin.stderr, '');
  assert.match(fromStdin.stdout, /"sub": "alice"/);
  assert.equal(fromStdin.stdout, fromArg.stdout);
});

test('inspect - with --cert from stdin', async () => {
  const cert = file('alice.crt');
  const result = await runCli(['inspect', '-', '--cert', cert], { input: token });
  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.stdout.includes(`bound to ${cert}: yes`), result.stdout);
});
