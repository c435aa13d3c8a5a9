// `certbound authz` fed what a broken proxy, a misconfiguration or an attacker could send it:
// each is a refusal with a logged reason, never a 500 and never an allow. Also the listening
// choices (a Unix socket) and the decision options (renamed identity headers, a default rule),
// all through the real CLI, with tokens from a real STS.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { DEV_ISSUER } from '../../src/pki/dev-pki.js';
import { killAll, makeTempDir, pkiInit, removeTempDir, startServer, type CliServer } from '../cli/run.js';
import { exchangeRequest, postToken } from '../helpers/servers.js';

const AUDIENCE = 'https://server.domain.com:8443';
let dir: string;
let sts: CliServer;
let alicePem: string;
let readToken: string;
const file = (name: string): string => join(dir, name);
const verifierFlags = (): string[] => [
  ...['--jwks', `${sts.url}/.well-known/jwks.json`, '--jwks-ca', file('ca.crt'), '--issuer', DEV_ISSUER, '--audience', AUDIENCE],
];

before(async () => {
  dir = await makeTempDir('authz-bad-input');
  await pkiInit(dir);
  alicePem = await readFile(file('alice.crt'), 'utf8');
  sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
  const agent = new Agent({
    connect: { ca: await readFile(file('ca.crt'), 'utf8'), cert: alicePem, key: await readFile(file('alice.key'), 'utf8') },
  });
  const token = await postToken(agent, sts.url, exchangeRequest({ scope: 'read' }));
  await agent.close();
  assert.equal(token.status, 200, JSON.stringify(token.body));
  readToken = token.body.access_token as string;
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

/** The refusals logged so far, as [code, detail]. */
function refusals(server: CliServer): Array<{ code: string; detail: string }> {
  return server
    .stderr()
    .split('\n')
    .filter((line) => line.includes('"authz.refused"'))
    .map((line) => JSON.parse(line) as { code: string; detail: string });
}

describe('garbage in: a specific refusal, logged, never 500, never 200', () => {
  let authz: CliServer;
  before(async () => {
    authz = await startServer([
      'authz',
      ...['--port', '0', '--client-cert-format', 'pem-urlencoded', '--trusted-proxy', '127.0.0.1', ...verifierFlags()],
      ...['--rule', 'GET /orders/ read'],
    ]);
  });

  const nginxAsks = (extra: Record<string, string | string[]> = {}): Record<string, string | string[]> => ({
    'x-original-method': 'GET',
    'x-original-uri': '/orders/1',
    'x-ssl-client-cert': encodeURIComponent(alicePem),
    authorization: `Bearer ${readToken}`,
    ...extra,
  });

  test('the good request is allowed (so every refusal below is about its one change)', async () => {
    const response = await request(`${authz.url}/authz`, { headers: nginxAsks() });
    await response.body.dump();
    assert.equal(response.statusCode, 200);
  });

  test('each bad request: its status and code, in the log with a reason', async () => {
    const cases: Array<[string, Parameters<typeof request>[1], number, string]> = [
      ['garbage Authorization', { headers: nginxAsks({ authorization: 'Bearer a b c' }) }, 400, 'CB_AUTHORIZATION_MALFORMED'],
      ['a Basic credential', { headers: nginxAsks({ authorization: 'Basic YTpi' }) }, 401, 'CB_TOKEN_MISSING'],
      ['a garbage token', { headers: nginxAsks({ authorization: 'Bearer not.a.jwt' }) }, 401, 'CB_TOKEN_MALFORMED'],
      ['garbage certificate header', { headers: nginxAsks({ 'x-ssl-client-cert': '%zz' }) }, 400, 'CB_FORWARDED_CERT_MALFORMED'],
      [
        'two certificate headers',
        { headers: nginxAsks({ 'x-ssl-client-cert': [encodeURIComponent(alicePem), encodeURIComponent(alicePem)] }) },
        400,
        'CB_FORWARDED_CERT_MALFORMED',
      ],
      ['two original methods', { headers: nginxAsks({ 'x-original-method': ['GET', 'DELETE'] }) }, 400, 'CB_AUTHORIZATION_MALFORMED'],
      ['no original URI', { headers: { ...nginxAsks(), 'x-original-uri': [] } }, 400, 'CB_AUTHORIZATION_MALFORMED'],
      ['a relative original URI', { headers: nginxAsks({ 'x-original-uri': 'orders/1' }) }, 403, 'CB_ACCESS_DENIED'],
      ['a body', { method: 'POST', headers: nginxAsks(), body: 'x=1' }, 400, 'CB_AUTHORIZATION_MALFORMED'],
      [
        'a chunked body',
        {
          method: 'POST',
          headers: nginxAsks(),
          body: Readable.from(['x']),
        },
        400,
        'CB_AUTHORIZATION_MALFORMED',
      ],
    ];
    for (const [what, options, status, code] of cases) {
      const before = refusals(authz).length;
      const response = await request(`${authz.url}/authz`, options);
      const body = await response.body.text();
      assert.equal(response.statusCode, status, `${what}: ${body}`);
      assert.match(body, /"error"/, what);
      await authz.untilLogged(() => refusals(authz).length > before, `${what} logged`);
      const logged = refusals(authz).at(-1);
      assert.equal(logged?.code, code, what);
      assert.ok((logged?.detail ?? '').length > 0, `${what}: a reason is logged`);
    }
  });

  test('a certificate header from a peer that is not the trusted proxy: 400 CB_FORWARDED_CERT_UNTRUSTED', async () => {
    const agent = new Agent({ localAddress: '127.0.0.2' });
    const response = await request(`${authz.url}/authz`, { headers: nginxAsks(), dispatcher: agent });
    await response.body.dump();
    await agent.close();
    assert.equal(response.statusCode, 400);
    await authz.untilLogged(() => refusals(authz).at(-1)?.code === 'CB_FORWARDED_CERT_UNTRUSTED', 'untrusted peer logged');
  });

  test('a header past the size limit: 431, logged; the server goes on answering', async () => {
    const response = await request(`${authz.url}/authz`, { headers: nginxAsks({ 'x-padding': 'a'.repeat(20_000) }) });
    await response.body.dump();
    assert.equal(response.statusCode, 431);
    await authz.untilLogged(() => refusals(authz).at(-1)?.code === 'CB_REQUEST_TOO_LARGE', 'oversized header logged');
    const after = await request(`${authz.url}/authz`, { headers: nginxAsks() });
    await after.body.dump();
    assert.equal(after.statusCode, 200);
  });
});

describe('a Unix socket, renamed identity headers and a default rule', () => {
  let authz: CliServer;
  let socket: string;
  before(async () => {
    socket = file('authz.sock');
    authz = await startServer([
      'authz',
      ...['--socket', socket, '--client-cert-format', 'pem-urlencoded', ...verifierFlags()],
      ...['--rule', 'POST /orders/ write', '--default-rule', 'read'],
      ...['--identity-header', 'subject=X-User', '--identity-header', 'scope=X-Scopes'],
    ]);
  });

  const ask = async (method: string, uri: string) => {
    const agent = new Agent({ connect: { socketPath: socket } });
    try {
      const response = await request('http://localhost/authz', {
        dispatcher: agent,
        headers: {
          'x-original-method': method,
          'x-original-uri': uri,
          'x-ssl-client-cert': encodeURIComponent(alicePem),
          authorization: `Bearer ${readToken}`,
        },
      });
      await response.body.dump();
      return response;
    } finally {
      await agent.close();
    }
  };

  test('it listens on the socket, mode 0660, and says so', async () => {
    assert.equal(authz.url, `unix:${socket}`);
    const info = await stat(socket);
    assert.ok(info.isSocket());
    assert.equal(info.mode & 0o777, 0o660);
  });

  test('the default rule covers what no rule matches; a matching rule still decides; the headers carry the new names', async () => {
    const anywhere = await ask('GET', '/anything/else');
    assert.equal(anywhere.statusCode, 200);
    assert.equal(anywhere.headers['x-user'], 'alice');
    assert.equal(anywhere.headers['x-scopes'], 'read');
    assert.equal(anywhere.headers['x-certbound-subject'], undefined);
    assert.equal(anywhere.headers['x-certbound-thumbprint']?.length, 43, 'the headers not renamed keep their names');
    assert.equal((await ask('POST', '/orders/1')).statusCode, 403, 'POST /orders/ needs write');
    assert.equal((await ask('GET', '/x/../orders/1')).statusCode, 403, 'never the default for an unsafe path');
  });
});
