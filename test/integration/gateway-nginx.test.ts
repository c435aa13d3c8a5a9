// Gateway mode with a real nginx (Debian's): nginx terminates mutual TLS in front of an upstream
// that is not Node (Python's http.server), asks the real `certbound authz` CLI about every request
// through auth_request, with the configuration `certbound authz config nginx` prints. Tokens come
// from the real `certbound sts`.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { nginxGatewayConfig } from '../../src/cli/gateway/nginx.js';
import { computeThumbprint } from '../../src/core/thumbprint.js';
import { DEV_ISSUER } from '../../src/pki/dev-pki.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js';
import { nginxInstalled, nginxMainConfig, startNginxWith, type RunningNginx, NGINX } from '../helpers/nginx.js';
import { exchangeRequest, postToken } from '../helpers/servers.js';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli, startServer, type CliServer } from '../cli/run.js';

const AUDIENCE = 'https://server.domain.com:8443';
let dir: string;
let sts: CliServer;
let authz: CliServer;
let upstream: EchoUpstream;
let nginx: RunningNginx;
let ca: string;
let readToken: string;
const agents: Agent[] = [];
const file = (name: string): string => join(dir, name);

/** A client of nginx (or, with `servername` null, of the STS) presenting `who`'s certificate, or none. */
async function agentOf(who?: 'alice' | 'bob', servername: string | null = 'server.domain.com'): Promise<Agent> {
  const agent = new Agent({
    connect: {
      ca,
      ...(servername === null ? {} : { servername }),
      ...(who === undefined ? {} : { cert: await readFile(file(`${who}.crt`), 'utf8'), key: await readFile(file(`${who}.key`), 'utf8') }),
    },
  });
  agents.push(agent);
  return agent;
}

async function call(agent: Agent, method: string, path: string, headers: Record<string, string> = {}) {
  const response = await request(`${nginx.url}${path}`, {
    method: method as 'GET',
    dispatcher: agent,
    headers: { authorization: `Bearer ${readToken}`, ...headers },
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    challenge: String(response.headers['www-authenticate'] ?? ''),
    challenges: [response.headers['www-authenticate'] ?? []].flat().length,
    seen: response.statusCode === 200 ? (JSON.parse(text) as { headers: Record<string, string> }).headers : undefined,
    text,
  };
}

before(async () => {
  assert.ok(nginxInstalled(), `${NGINX} is missing: .ci/run installs nginx`);
  dir = await makeTempDir('gateway');
  await pkiInit(dir);
  ca = await readFile(file('ca.crt'), 'utf8');
  sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0', '--workers', '1']);
  authz = await startServer([
    'authz',
    ...['--port', '0', '--client-cert-format', 'pem-urlencoded'],
    ...['--jwks', `${sts.url}/.well-known/jwks.json`, '--jwks-ca', file('ca.crt'), '--issuer', DEV_ISSUER, '--audience', AUDIENCE],
    ...['--rule', 'GET /orders/ read', '--rule', 'POST /orders/ write'],
  ]);
  upstream = await startEchoUpstream();
  nginx = await startNginxWith((nginxDir, port) =>
    nginxMainConfig(
      nginxDir,
      nginxGatewayConfig({
        listen: `127.0.0.1:${port}`,
        upstream: upstream.url,
        authz: authz.url,
        tlsCert: file('server.crt'),
        tlsKey: file('server.key'),
        clientCa: file('ca.crt'),
      }),
    ),
  );
  const token = await postToken(await agentOf('alice', null), sts.url, exchangeRequest({ scope: 'read' }));
  assert.equal(token.status, 200, JSON.stringify(token.body));
  readToken = token.body.access_token as string;
});

after(async () => {
  await Promise.all(agents.map((agent) => agent.close()));
  await nginx?.close();
  await upstream?.close();
  await killAll();
  await removeTempDir(dir);
});

test('the CLI prints the configuration the test runs', async () => {
  const printed = await runCli([
    'authz',
    'config',
    'nginx',
    ...['--listen', '127.0.0.1:8443', '--upstream', upstream.url, '--authz', authz.url],
    ...['--tls-ca', file('ca.crt'), '--tls-cert', file('server.crt'), '--tls-key', file('server.key')],
  ]);
  assert.equal(printed.code, 0, printed.stderr);
  const expected = nginxGatewayConfig({
    listen: '127.0.0.1:8443',
    upstream: upstream.url,
    authz: authz.url,
    tlsCert: file('server.crt'),
    tlsKey: file('server.key'),
    clientCa: file('ca.crt'),
  });
  assert.equal(printed.stdout, expected);
});

test("alice's certificate and token: 200, and the Python upstream saw her identity", async () => {
  const answer = await call(await agentOf('alice'), 'GET', '/orders/1');
  assert.equal(answer.status, 200, `${answer.text}\n${nginx.log()}`);
  assert.equal(answer.seen?.['x-certbound-subject'], 'alice');
  assert.equal(answer.seen?.['x-certbound-client-id'], 'alice');
  assert.equal(answer.seen?.['x-certbound-scope'], 'read');
  assert.equal(answer.seen?.['x-certbound-thumbprint'], computeThumbprint(await readFile(file('alice.crt'), 'utf8')));
});

test("bob's certificate with alice's token: 401 with the challenge; no certificate: 401", async () => {
  const replay = await call(await agentOf('bob'), 'GET', '/orders/1');
  assert.equal(replay.status, 401, replay.text);
  assert.match(replay.challenge, /^Bearer error="invalid_token", error_description="token is bound to a different client certificate"/);
  assert.equal(replay.challenges, 1, "one challenge, not nginx's copy and ours");
  const bare = await call(await agentOf(), 'GET', '/orders/1');
  assert.equal(bare.status, 401, bare.text);
  assert.match(bare.challenge, /error="invalid_token"/);
});

test("forged headers: alice's certificate sent in a header over bob's connection is refused; a forged identity never reaches the upstream", async () => {
  const alicePem = encodeURIComponent(await readFile(file('alice.crt'), 'utf8'));
  const forged = await call(await agentOf('bob'), 'GET', '/orders/1', {
    'x-ssl-client-cert': alicePem,
    'client-cert': `:${Buffer.from('x').toString('base64')}:`,
  });
  assert.equal(forged.status, 401, forged.text);
  const posing = await call(await agentOf('alice'), 'GET', '/orders/1', {
    'x-certbound-subject': 'admin',
    'x-certbound-scope': 'admin',
    'x-original-uri': '/admin/',
    'x-forwarded-uri': '/admin/',
  });
  assert.equal(posing.status, 200, posing.text);
  assert.equal(posing.seen?.['x-certbound-subject'], 'alice');
  assert.equal(posing.seen?.['x-certbound-scope'], 'read');
  assert.equal(posing.seen?.['x-original-uri'], undefined);
  assert.equal(posing.seen?.['x-ssl-client-cert'], undefined, 'the certificate header is not forwarded to the upstream');
});

test("a rule's missing scope: 403 with insufficient_scope and the scope; no rule: 403", async () => {
  const write = await call(await agentOf('alice'), 'POST', '/orders/1');
  assert.equal(write.status, 403, write.text);
  assert.match(write.challenge, /error="insufficient_scope", error_description="token lacks the required scope write", scope="write"/);
  assert.equal(write.challenges, 1);
  const other = await call(await agentOf('alice'), 'GET', '/elsewhere');
  assert.equal(other.status, 403, other.text);
  const walk = await call(await agentOf('alice'), 'GET', '/orders/%2e%2e/elsewhere');
  assert.equal(walk.status, 403, walk.text);
});

// Last: it stops the authz server.
test('authz down: nginx fails closed (5xx), never 200', async () => {
  await authz.stop();
  const answer = await call(await agentOf('alice'), 'GET', '/orders/1');
  assert.ok(answer.status >= 500, `expected 5xx, got ${answer.status}`);
});
