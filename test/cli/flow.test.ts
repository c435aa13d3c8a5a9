// The whole story with real processes: `certbound sts` and `certbound resource` servers, and the
// `token` and `call` client commands against them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { computeThumbprint } from '../../src/core/thumbprint.js';
import { temporarySecretVolume } from '../helpers/secret-volume.js';
import { killAll, lines, makeTempDir, pkiInit, removeTempDir, runCli, startServer, type CliServer, type RunResult } from './run.js';

const ISSUER = 'https://sts.domain.com:8081';
const AUDIENCE = 'https://server.domain.com:8443';
const SUBJECT_TOKENS = { alice: 'iamtheeggman', bob: 'iamthewalrus' } as const;
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

let dir: string | undefined;
const file = (name: string): string => join(dir as string, 'pki', name);
const servers: CliServer[] = [];
let sts: CliServer;
/** The same STS configured with `subject_token_error: invalid_grant`. */
let invalidGrantSts: CliServer;
/** Keys from jwks.json, audience AUDIENCE. */
let resource: CliServer;
/** Keys from jwks.json, an audience no token is issued for. */
let otherResource: CliServer;
/** Keys from the STS's /.well-known/jwks.json. */
let urlJwksResource: CliServer;
const issuedTokens: string[] = [];

function resourceArgs(jwks: string, audience: string): string[] {
  return [
    'resource',
    '--port',
    '0',
    '--tls-ca',
    file('ca.crt'),
    '--tls-cert',
    file('server.crt'),
    '--tls-key',
    file('server.key'),
    '--jwks',
    jwks,
    '--issuer',
    ISSUER,
    '--audience',
    audience,
  ];
}

/** The client flags for `token`/`call` as `who` presenting `subjectToken`. */
function clientArgs(who: 'alice' | 'bob', subjectToken: string, stsUrl = sts.url): string[] {
  return [
    '--sts',
    stsUrl,
    '--tls-ca',
    file('ca.crt'),
    '--tls-cert',
    file(`${who}.crt`),
    '--tls-key',
    file(`${who}.key`),
    '--subject-token',
    subjectToken,
    '--audience',
    AUDIENCE,
    '--scope',
    'read',
  ];
}

interface TokenResponse {
  access_token: string;
  token_type: string;
  issued_token_type: string;
  expires_in: number;
  scope?: string;
}

function assertTokenResponse(result: RunResult): TokenResponse {
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const response = JSON.parse(result.stdout) as TokenResponse;
  assert.match(response.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.equal(response.token_type, 'Bearer');
  assert.equal(response.issued_token_type, ACCESS_TOKEN_TYPE);
  assert.equal(response.expires_in, 3600);
  assert.equal(response.scope, 'read');
  issuedTokens.push(response.access_token);
  return response;
}

/** Exit 1, nothing on stdout, one `certbound: ...` line on stderr; returns that line. */
function assertRefused(result: RunResult): string {
  assert.equal(result.code, 1, `exit code ${result.code}; stdout: ${result.stdout}; stderr: ${result.stderr}`);
  assert.equal(result.stdout, '');
  const stderr = lines(result.stderr);
  assert.equal(stderr.length, 1, result.stderr);
  assert.ok(stderr[0]?.startsWith('certbound: '), result.stderr);
  assert.doesNotMatch(result.stderr, /^\s+at /m);
  return stderr[0] as string;
}

before(async () => {
  dir = await makeTempDir('flow');
  await pkiInit(join(dir, 'pki'));
  const invalidGrantConfig = file('sts-invalid-grant.yaml');
  await writeFile(invalidGrantConfig, `${await readFile(file('sts.yaml'), 'utf8')}\nsubject_token_error: invalid_grant\n`);
  [sts, invalidGrantSts] = await Promise.all([
    startServer(['sts', '--config', file('sts.yaml'), '--port', '0']),
    startServer(['sts', '--config', invalidGrantConfig, '--port', '0']),
  ]);
  servers.push(sts, invalidGrantSts);
  const started = await Promise.all([
    startServer(resourceArgs(file('jwks.json'), AUDIENCE)),
    startServer(resourceArgs(file('jwks.json'), 'https://elsewhere.domain.com')),
    startServer(resourceArgs(`${sts.url}/.well-known/jwks.json`, AUDIENCE)),
  ]);
  servers.push(...started);
  [resource, otherResource, urlJwksResource] = started as [CliServer, CliServer, CliServer];
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

test('the servers print a ready line with their URL', () => {
  for (const server of [sts, invalidGrantSts]) {
    assert.equal(server.name, 'sts');
    assert.match(server.readyLine, /^certbound sts listening on https:\/\/127\.0\.0\.1:\d+ \(issuer https:\/\/sts\.domain\.com:8081\)$/);
    assert.ok(server.readyLine.includes(server.url));
  }
  for (const server of [resource, otherResource, urlJwksResource]) {
    assert.equal(server.name, 'resource');
    assert.match(server.readyLine, /^certbound resource listening on https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(server.readyLine.includes(server.url));
    assert.notEqual(Number(new URL(server.url).port), 0);
  }
  assert.equal(new Set(servers.map((server) => server.url)).size, servers.length, 'each server has its own port');
});

test('token: alice exchanges her subject token for a bound access token', async () => {
  const response = assertTokenResponse(await runCli(['token', ...clientArgs('alice', SUBJECT_TOKENS.alice)]));
  const claims = JSON.parse(Buffer.from(response.access_token.split('.')[1] as string, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.aud, AUDIENCE);
  const thumbprint = (await runCli(['thumbprint', file('alice.crt')])).stdout.trim();
  assert.deepEqual(claims.cnf, { 'x5t#S256': thumbprint });
});

test('token --servername sts.domain.com checks the STS certificate against that name', async () => {
  assertTokenResponse(await runCli(['token', ...clientArgs('alice', SUBJECT_TOKENS.alice), '--servername', 'sts.domain.com']));
});

test('token --servername with a name the STS certificate does not have fails (exit 1)', async () => {
  assertRefused(await runCli(['token', ...clientArgs('alice', SUBJECT_TOKENS.alice), '--servername', 'evil.example.com']));
});

// RFC 8693 §2.2.2: a subject token refused by policy is invalid_request by default.
test("token: bob presenting alice's subject token is refused with invalid_request (exit 1)", async () => {
  const line = assertRefused(await runCli(['token', ...clientArgs('bob', SUBJECT_TOKENS.alice)]));
  assert.ok(line.includes('invalid_request'), line);
  assert.ok(line.includes('not issued to this client certificate'), line);
});

test("token: with subject_token_error: invalid_grant, bob presenting alice's subject token gets invalid_grant (exit 1)", async () => {
  const line = assertRefused(await runCli(['token', ...clientArgs('bob', SUBJECT_TOKENS.alice, invalidGrantSts.url)]));
  assert.ok(line.includes('invalid_grant'), line);
  assert.ok(line.includes('not issued to this client certificate'), line);
});

test('token --subject-token-file reads the secret from a file (trailing newline ignored)', async () => {
  const secretFile = join(dir as string, 'alice-subject-token');
  await writeFile(secretFile, `${SUBJECT_TOKENS.alice}\n`, { mode: 0o600 });
  const args = clientArgs('alice', SUBJECT_TOKENS.alice);
  const withoutInline = args.filter((arg, i) => arg !== '--subject-token' && args[i - 1] !== '--subject-token');
  assertTokenResponse(await runCli(['token', ...withoutInline, '--subject-token-file', secretFile]));
  // Both forms at once, or an empty file, are bad input.
  const both = await runCli(['token', ...args, '--subject-token-file', secretFile]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /exactly one of --subject-token or --subject-token-file/);
  const emptyFile = join(dir as string, 'empty-subject-token');
  await writeFile(emptyFile, '');
  const empty = await runCli(['token', ...withoutInline, '--subject-token-file', emptyFile]);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /subject token file is empty/);
});

test('call: alice reaches the resource with her bound token', async () => {
  const result = await runCli(['call', `${resource.url}/`, ...clientArgs('alice', SUBJECT_TOKENS.alice)]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const body = JSON.parse(result.stdout) as Record<string, unknown>;
  assert.equal(body.subject, 'alice');
  assert.match(result.stdout, /"subject":"alice"/);
});

test('call: bob reaches the resource with his own subject token', async () => {
  const result = await runCli(['call', `${resource.url}/`, ...clientArgs('bob', SUBJECT_TOKENS.bob)]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal((JSON.parse(result.stdout) as Record<string, unknown>).subject, 'bob');
});

test("call: bob with alice's subject token is refused by the STS (exit 1)", async () => {
  const line = assertRefused(await runCli(['call', `${resource.url}/`, ...clientArgs('bob', SUBJECT_TOKENS.alice)]));
  assert.ok(line.includes('invalid_request'), line);
  assert.ok(line.includes('not issued to this client certificate'), line);
});

test('call: a resource with another audience answers 401 (exit 1)', async () => {
  const line = assertRefused(await runCli(['call', `${otherResource.url}/`, ...clientArgs('alice', SUBJECT_TOKENS.alice)]));
  assert.ok(line.includes('401'), line);
  assert.ok(line.includes('invalid_token'), line);
});

test('call: a resource fetching the JWKS from the STS URL accepts alice', async () => {
  const result = await runCli(['call', `${urlJwksResource.url}/`, ...clientArgs('alice', SUBJECT_TOKENS.alice)]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal((JSON.parse(result.stdout) as Record<string, unknown>).subject, 'alice');
});

test('call: an unreachable resource is a failure (exit 1), not bad input', async () => {
  const closed = new URL(otherResource.url);
  closed.port = '1';
  assertRefused(await runCli(['call', `${closed.origin}/`, ...clientArgs('alice', SUBJECT_TOKENS.alice)]));
});

test('call: certificate files in a Kubernetes Secret volume (symlinks through ..data) are followed', async (t) => {
  const read = (name: string) => readFile(file(name), 'utf8');
  const volume = await temporarySecretVolume(t, {
    'ca.crt': await read('ca.crt'),
    'tls.crt': await read('alice.crt'),
    'tls.key': await read('alice.key'),
  });
  const args = clientArgs('alice', SUBJECT_TOKENS.alice).map((arg) =>
    arg === file('ca.crt')
      ? volume.path('ca.crt')
      : arg === file('alice.crt')
        ? volume.path('tls.crt')
        : arg === file('alice.key')
          ? volume.path('tls.key')
          : arg,
  );
  const result = await runCli(['call', `${resource.url}/`, ...args]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const body = JSON.parse(result.stdout) as Record<string, unknown>;
  assert.equal(body['x5t#S256'], computeThumbprint(await read('alice.crt')));
});

test('the server event logs carry no tokens', () => {
  assert.ok(issuedTokens.length > 0);
  const logs = servers.map((server) => server.stderr()).join('\n');
  assert.match(sts.stderr(), /"type":"token.issued"/);
  for (const secret of [...Object.values(SUBJECT_TOKENS), ...issuedTokens])
    assert.ok(!logs.includes(secret), 'a token appears in a server log');
  for (const token of issuedTokens) assert.ok(!logs.includes(token.split('.')[2] as string), 'a token signature appears in a server log');
});

test('SIGTERM stops every server promptly with exit code 0', async () => {
  const results = await Promise.all(servers.map((server) => server.stop()));
  for (const [index, result] of results.entries()) {
    assert.deepEqual(result, { code: 0, signal: null }, `${servers[index]?.readyLine}`);
  }
});
