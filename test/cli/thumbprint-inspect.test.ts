// `certbound thumbprint` against openssl, and `certbound inspect` on a real token from the STS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli, startServer, tool, type CliServer } from './run.js';

let dir: string | undefined;
let sts: CliServer | undefined;
let token = '';
const file = (name: string): string => join(dir as string, 'pki', name);

const ISSUER = 'https://sts.domain.com:8081';
const AUDIENCE = 'https://server.domain.com:8443';
const tokenArgs = (): string[] => [
  'token',
  '--sts',
  (sts as CliServer).url,
  '--tls-ca',
  file('ca.crt'),
  '--tls-cert',
  file('alice.crt'),
  '--tls-key',
  file('alice.key'),
  '--subject-token',
  'iamtheeggman',
  '--audience',
  AUDIENCE,
  '--scope',
  'read',
];

before(async () => {
  dir = await makeTempDir('inspect');
  await pkiInit(join(dir, 'pki'));
  sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
  const result = await runCli(tokenArgs());
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

test('token --output token prints the access token alone, and inspect - reads it', async () => {
  const result = await runCli([...tokenArgs(), '--output', 'token']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  const inspected = await runCli(['inspect', '-', '--cert', file('alice.crt')], { input: result.stdout });
  assert.equal(inspected.code, 0, inspected.stderr);
  assert.match(inspected.stdout, /"sub": "alice"/);
  assert.ok(inspected.stdout.includes(`bound to ${file('alice.crt')}: yes`), inspected.stdout);
});

test('token --output header prints an Authorization line that inspect - reads too', async () => {
  const result = await runCli([...tokenArgs(), '--output', 'header']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^Authorization: Bearer [\w-]+\.[\w-]+\.[\w-]+\n$/);
  const inspected = await runCli(['inspect', '-'], { input: result.stdout });
  assert.equal(inspected.code, 0, inspected.stderr);
  assert.match(inspected.stdout, /"sub": "alice"/);
});

test('CERTBOUND_OUTPUT=token is --output token; the default is the response JSON', async () => {
  const fromEnv = await runCli(tokenArgs(), { env: { CERTBOUND_OUTPUT: 'token' } });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  assert.match(fromEnv.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  const json = await runCli([...tokenArgs(), '--output', 'json']);
  assert.equal(json.code, 0, json.stderr);
  assert.equal((JSON.parse(json.stdout) as { token_type: string }).token_type, 'Bearer');
});

test('inspect - takes the token response JSON, as certbound token prints it by default', async () => {
  const response = await runCli(tokenArgs());
  assert.equal(response.code, 0, response.stderr);
  const inspected = await runCli(['inspect', '-'], { input: response.stdout });
  assert.equal(inspected.code, 0, inspected.stderr);
  assert.match(inspected.stdout, /"sub": "alice"/);
  const withoutToken = await runCli(['inspect', '-'], { input: '{"token_type": "Bearer"}' });
  assert.equal(withoutToken.code, 2);
  assert.match(withoutToken.stderr, /^certbound: inspect: TOKEN is JSON without an access_token/);
});

test('inspect --jwks with the issuer keys, --issuer and --audience: valid, exit 0', async () => {
  const result = await runCli(['inspect', token, '--jwks', file('jwks.json'), '--issuer', ISSUER, '--audience', AUDIENCE]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  assert.ok(result.stdout.includes(`verified against ${file('jwks.json')}: valid (signature, exp, nbf, iss, aud)`), result.stdout);
});

test('inspect --jwks from the STS JWKS URL, checked against --jwks-ca', async () => {
  const url = `${(sts as CliServer).url}/.well-known/jwks.json`;
  const result = await runCli(['inspect', '-', '--jwks', url, '--jwks-ca', file('ca.crt')], { input: token });
  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.stdout.includes(`verified against ${url}: valid (signature, exp, nbf)`), result.stdout);
});

test('inspect --jwks: a wrong audience or issuer is invalid with the reason, exit 1', async () => {
  const audience = await runCli(['inspect', token, '--jwks', file('jwks.json'), '--audience', 'https://elsewhere.example']);
  assert.equal(audience.code, 1, audience.stderr);
  assert.match(audience.stdout, /: INVALID: token aud claim is not accepted$/m);
  assert.equal(audience.stderr, 'certbound: token is invalid: token aud claim is not accepted\n');
  const issuer = await runCli(['inspect', token, '--jwks', file('jwks.json'), '--issuer', 'https://evil.example']);
  assert.equal(issuer.code, 1, issuer.stderr);
  assert.match(issuer.stdout, /: INVALID: token iss claim is not accepted$/m);
});

test('inspect --jwks: another key under the same kid is an invalid signature; an unknown kid is unknown', async () => {
  const published = JSON.parse(await readFile(file('jwks.json'), 'utf8')) as { keys: { kid: string }[] };
  const kid = (published.keys[0] as { kid: string }).kid;
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  const other = { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' };
  await writeFile(file('impostor.json'), JSON.stringify({ keys: [{ ...other, kid }] }));
  await writeFile(file('unrelated.json'), JSON.stringify({ keys: [{ ...other, kid: 'unrelated' }] }));
  const forged = await runCli(['inspect', token, '--jwks', file('impostor.json')]);
  assert.equal(forged.code, 1, forged.stderr);
  assert.match(forged.stdout, /: INVALID: token signature is invalid$/m);
  const unknown = await runCli(['inspect', token, '--jwks', file('unrelated.json')]);
  assert.equal(unknown.code, 1, unknown.stderr);
  assert.match(unknown.stdout, /: INVALID: token was signed with an unknown key$/m);
});

test('inspect: --issuer without --jwks is bad input', async () => {
  const result = await runCli(['inspect', token, '--issuer', ISSUER]);
  assert.equal(result.code, 2);
  assert.equal(result.stderr, 'certbound: inspect: --issuer needs --jwks\n');
  // The variables a shell sets up for `certbound token` do not stop the pipe into inspect.
  const piped = await runCli(['inspect', '-'], { input: token, env: { CERTBOUND_AUDIENCE: AUDIENCE, CERTBOUND_ISSUER: ISSUER } });
  assert.equal(piped.code, 0, piped.stderr);
});
