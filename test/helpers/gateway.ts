// What every gateway test shares: a dev PKI, the real `certbound sts` and `certbound authz`
// CLIs, a Python upstream, and the same checks through whichever real proxy the test starts.
// Not a test file itself.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { computeThumbprint } from '../../src/core/thumbprint.js';
import type { GatewayConfigOptions } from '../../src/cli/gateway/nginx.js';
import { DEV_ISSUER } from '../../src/pki/dev-pki.js';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli, startServer, type CliServer } from '../cli/run.js';
import { startEchoUpstream, type EchoUpstream } from './echo-upstream.js';
import { exchangeRequest, postToken } from './servers.js';

const AUDIENCE = 'https://server.domain.com:8443';
/** The name in server.crt the clients ask the proxy for (SNI and Host). */
const PROXY_NAME = 'server.domain.com';

export interface RunningProxy {
  /** https://127.0.0.1:port */
  url: string;
  log(): string;
  close(): Promise<void>;
}

export interface GatewayCase {
  proxy: 'nginx' | 'caddy';
  /** How this proxy forwards the certificate to authz. */
  format: 'pem-urlencoded' | 'rfc9440';
  /** The generated configuration for the given options, as the CLI prints it. */
  configFor(options: GatewayConfigOptions): string;
  /** Start the proxy; `options(port)` gives the configuration options for the port it picked. */
  start(options: (port: number) => GatewayConfigOptions): Promise<RunningProxy>;
  /** A deliberately broken configuration `certbound probe` must catch, and the row it must flag UNSAFE. */
  broken?: { what: string; start(options: (port: number) => GatewayConfigOptions): Promise<RunningProxy>; unsafeRow: RegExp };
}

/** Register the gateway checks for one proxy: allow, replay, no certificate, forgeries, scopes, authz down. */
export function gatewayTests(gateway: GatewayCase): void {
  let dir: string;
  let sts: CliServer;
  let authz: CliServer;
  let upstream: EchoUpstream;
  let proxy: RunningProxy;
  let ca: string;
  let readToken: string;
  const agents: Agent[] = [];
  const file = (name: string): string => join(dir, name);
  const optionsFor = (port: number): GatewayConfigOptions => ({
    listen: `127.0.0.1:${port}`,
    upstream: upstream.url,
    authz: authz.url,
    tlsCert: file('server.crt'),
    tlsKey: file('server.key'),
    clientCa: file('ca.crt'),
  });

  /** A client presenting `who`'s certificate (or none), asking for the proxy's name, or (null) the STS's own. */
  async function agentOf(who?: 'alice' | 'bob', servername: string | null = PROXY_NAME): Promise<Agent> {
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
    const response = await request(`${proxy.url}${path}`, {
      method: method as 'GET',
      dispatcher: agent,
      // Caddy answers 421 when Host and SNI differ with client authentication on.
      headers: { host: PROXY_NAME, authorization: `Bearer ${readToken}`, ...headers },
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
    dir = await makeTempDir(`gateway-${gateway.proxy}`);
    await pkiInit(dir);
    ca = await readFile(file('ca.crt'), 'utf8');
    sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0', '--workers', '1']);
    authz = await startServer([
      'authz',
      ...['--port', '0', '--client-cert-format', gateway.format],
      ...['--jwks', `${sts.url}/.well-known/jwks.json`, '--jwks-ca', file('ca.crt'), '--issuer', DEV_ISSUER, '--audience', AUDIENCE],
      ...['--rule', 'GET /orders/ read', '--rule', 'POST /orders/ write'],
    ]);
    upstream = await startEchoUpstream();
    proxy = await gateway.start(optionsFor);
    const token = await postToken(await agentOf('alice', null), sts.url, exchangeRequest({ scope: 'read' }));
    assert.equal(token.status, 200, JSON.stringify(token.body));
    readToken = token.body.access_token as string;
  });

  after(async () => {
    await Promise.all(agents.map((agent) => agent.close()));
    await proxy?.close();
    await upstream?.close();
    await killAll();
    await removeTempDir(dir);
  });

  test(`${gateway.proxy}: the CLI prints the configuration the test runs`, async () => {
    const options = optionsFor(8443);
    const printed = await runCli([
      ...['authz', 'config', gateway.proxy, '--listen', options.listen, '--upstream', options.upstream, '--authz', options.authz],
      ...['--tls-ca', options.clientCa, '--tls-cert', options.tlsCert, '--tls-key', options.tlsKey],
    ]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, gateway.configFor(options));
  });

  test(`${gateway.proxy}: alice's certificate and token: 200, and the Python upstream saw her identity`, async () => {
    const answer = await call(await agentOf('alice'), 'GET', '/orders/1');
    assert.equal(answer.status, 200, `${answer.text}\n${proxy.log()}`);
    assert.equal(answer.seen?.['x-certbound-subject'], 'alice');
    assert.equal(answer.seen?.['x-certbound-client-id'], 'alice');
    assert.equal(answer.seen?.['x-certbound-scope'], 'read');
    assert.equal(answer.seen?.['x-certbound-thumbprint'], computeThumbprint(await readFile(file('alice.crt'), 'utf8')));
  });

  test(`${gateway.proxy}: bob's certificate with alice's token: 401 with one challenge; no certificate: 401`, async () => {
    const replay = await call(await agentOf('bob'), 'GET', '/orders/1');
    assert.equal(replay.status, 401, replay.text);
    assert.match(replay.challenge, /^Bearer error="invalid_token", error_description="token is bound to a different client certificate"/);
    assert.equal(replay.challenges, 1, 'one challenge');
    const bare = await call(await agentOf(), 'GET', '/orders/1');
    assert.equal(bare.status, 401, `${bare.text}\n${proxy.log()}`);
    assert.match(bare.challenge, /error="invalid_token"/);
  });

  test(`${gateway.proxy}: forged certificate headers are refused; a forged identity or original URI never counts`, async () => {
    const alice = await readFile(file('alice.crt'), 'utf8');
    const der = computeDer(alice);
    const forged = await call(await agentOf('bob'), 'GET', '/orders/1', {
      'x-ssl-client-cert': encodeURIComponent(alice),
      'client-cert': `:${der}:`,
      'x-forwarded-client-cert': `Cert="${encodeURIComponent(alice)}"`,
    });
    assert.equal(forged.status, 401, forged.text);
    const posing = await call(await agentOf('alice'), 'GET', '/orders/1', {
      'x-certbound-subject': 'admin',
      'x-certbound-scope': 'admin',
      'x-original-uri': '/elsewhere',
      'x-original-method': 'DELETE',
    });
    assert.equal(posing.status, 200, posing.text);
    assert.equal(posing.seen?.['x-certbound-subject'], 'alice');
    assert.equal(posing.seen?.['x-certbound-scope'], 'read');
    assert.equal(posing.seen?.['x-original-uri'], undefined);
    assert.equal(posing.seen?.['client-cert'], undefined, 'no certificate header reaches the upstream');
    assert.equal(posing.seen?.['x-ssl-client-cert'], undefined);
    // The client cannot point authz at another path to borrow its rule.
    const borrowed = await call(await agentOf('alice'), 'POST', '/orders/1', {
      'x-original-uri': '/orders/1',
      'x-original-method': 'GET',
      'x-forwarded-method': 'GET',
    });
    assert.equal(borrowed.status, 403, borrowed.text);
  });

  test(`${gateway.proxy}: a rule's missing scope: 403 with insufficient_scope; no rule or a dot-segment walk: 403`, async () => {
    const write = await call(await agentOf('alice'), 'POST', '/orders/1');
    assert.equal(write.status, 403, write.text);
    assert.match(write.challenge, /error="insufficient_scope", error_description="token lacks the required scope write", scope="write"/);
    assert.equal(write.challenges, 1);
    assert.equal((await call(await agentOf('alice'), 'GET', '/elsewhere')).status, 403);
    assert.equal((await call(await agentOf('alice'), 'GET', '/orders/%2e%2e/elsewhere')).status, 403);
  });

  /** `certbound probe` of /orders/1 through `running` with alice's token, alice and bob, by the proxy's name. */
  const probe = (running: RunningProxy) =>
    runCli([
      ...['probe', `${running.url}/orders/1`, '--token', readToken, '--servername', PROXY_NAME],
      ...['--tls-ca', file('ca.crt'), '--tls-cert', file('alice.crt'), '--tls-key', file('alice.key')],
      ...['--other-cert', file('bob.crt'), '--other-key', file('bob.key')],
    ]);

  test(`${gateway.proxy}: certbound probe finds the generated configuration safe: all eight cases ok, exit 0`, async () => {
    const result = await probe(proxy);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}\n${proxy.log()}`);
    assert.equal(result.stderr, '');
    const rows = result.stdout.split('\n').filter((line) => /^\d\. /.test(line));
    assert.equal(rows.length, 8, result.stdout);
    assert.match(rows[0] as string, /^1\. owner's certificate +accepted \(2xx\) +200 +ok$/);
    for (const row of rows.slice(1, 7)) assert.match(row, / refused \(401\/403\) +401 invalid_token +ok$/);
    // No Authorization header at all: authz answers 401 without an error code (RFC 6750 §3.1).
    assert.match(rows[7] as string, /^8\. token in \?access_token=, owner's certificate +refused \(401\/403\) +401 +ok$/);
    assert.match(result.stdout, /^all 8 cases as expected: the token is accepted only with its own certificate$/m);
  });

  if (gateway.broken !== undefined) {
    const broken = gateway.broken;
    test(`${gateway.proxy}: certbound probe catches ${broken.what}: exit 1, UNSAFE on that row`, async () => {
      const running = await broken.start(optionsFor);
      try {
        const result = await probe(running);
        assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}\n${running.log()}`);
        const rows = result.stdout.split('\n').filter((line) => /^\d\. /.test(line));
        assert.equal(rows.length, 8, result.stdout);
        const unsafe = rows.filter((row) => / FAIL \(UNSAFE\)$/.test(row));
        assert.equal(unsafe.length, 1, result.stdout);
        assert.match(unsafe[0] as string, broken.unsafeRow);
        // Only that hole: the owner's request still works, the other refusals still hold.
        assert.equal(rows.filter((row) => / ok$/.test(row)).length, 7, result.stdout);
        assert.match(result.stderr, /^certbound: UNSAFE: accepted what must be refused: case \d \(/);
      } finally {
        await running.close();
      }
    });
  }

  // Last: it stops the authz server.
  test(`${gateway.proxy}: authz down: the proxy fails closed (5xx), never 200`, async () => {
    await authz.stop();
    const answer = await call(await agentOf('alice'), 'GET', '/orders/1');
    assert.ok(answer.status >= 500, `expected 5xx, got ${answer.status}`);
  });
}

function computeDer(pem: string): string {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64').toString('base64');
}
