// `certbound authz` asked the way Traefik's ForwardAuth and Envoy's HTTP ext_authz service ask it.
// There is no Traefik or Envoy package on this machine, so these are contract tests: each request
// is built as the proxy's source and documentation say it is built (Traefik v3
// pkg/middlewares/auth/forward.go and passtlsclientcert; Envoy's ext_authz HTTP service and
// x-forwarded-client-cert docs), sent over real HTTP to the real CLI server, with tokens from a
// real STS over mutual TLS. The generated Traefik configuration is checked for the fields the
// security rests on.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { parse } from 'yaml';
import { DEV_ISSUER } from '../../src/pki/dev-pki.js';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli, startServer, type CliServer } from '../cli/run.js';
import { exchangeRequest, postToken } from '../helpers/servers.js';

const AUDIENCE = 'https://server.domain.com:8443';
let dir: string;
let sts: CliServer;
let pems: { alice: string; bob: string; ca: string };
let readToken: string;
const file = (name: string): string => join(dir, name);
const verifierFlags = (): string[] => [
  ...['--jwks', `${sts.url}/.well-known/jwks.json`, '--jwks-ca', file('ca.crt'), '--issuer', DEV_ISSUER, '--audience', AUDIENCE],
];

before(async () => {
  dir = await makeTempDir('authz-contracts');
  await pkiInit(dir);
  pems = {
    alice: await readFile(file('alice.crt'), 'utf8'),
    bob: await readFile(file('bob.crt'), 'utf8'),
    ca: await readFile(file('ca.crt'), 'utf8'),
  };
  sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
  const agent = new Agent({ connect: { ca: pems.ca, cert: pems.alice, key: await readFile(file('alice.key'), 'utf8') } });
  const token = await postToken(agent, sts.url, exchangeRequest({ scope: 'read' }));
  await agent.close();
  assert.equal(token.status, 200, JSON.stringify(token.body));
  readToken = token.body.access_token as string;
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

async function ask(url: string, method: string, path: string, headers: Record<string, string>) {
  const response = await request(`${url}${path}`, { method: method as 'GET', headers });
  const body = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body };
}

/** Traefik's PassTLSClientCert (pem: true): the PEM bodies of the peer's chain, leaf first, joined by ','. */
const traefikCert = (...chain: string[]): string => chain.map((pem) => pem.replace(/-----[A-Z ]+-----|\n/g, '')).join(',');

describe('Traefik ForwardAuth + PassTLSClientCert (contract)', () => {
  let authz: CliServer;
  before(async () => {
    authz = await startServer([
      'authz',
      ...['--port', '0', '--client-cert-format', 'traefik', ...verifierFlags()],
      ...['--rule', 'GET /orders/ read', '--rule', 'POST /orders/ write'],
    ]);
  });

  /** What ForwardAuth sends with trustForwardHeader false and authRequestHeaders [Authorization, X-Forwarded-Tls-Client-Cert]. */
  const traefikAsks = (method: string, uri: string, cert: string | undefined, token = readToken): Record<string, string> => ({
    authorization: `Bearer ${token}`,
    ...(cert === undefined ? {} : { 'x-forwarded-tls-client-cert': cert }),
    'x-forwarded-for': '203.0.113.9',
    'x-forwarded-method': method,
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'server.domain.com',
    'x-forwarded-uri': uri,
  });

  test("alice's chain + alice's token: 200 with the identity headers ForwardAuth copies (authResponseHeaders)", async () => {
    const answer = await ask(authz.url, 'GET', '/authz', traefikAsks('GET', '/orders/1?x=1', traefikCert(pems.alice, pems.ca)));
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.headers['x-certbound-subject'], 'alice');
    assert.equal(answer.headers['x-certbound-scope'], 'read');
  });

  test("bob's certificate: 401 invalid_token; a missing scope 403 insufficient_scope; ForwardAuth returns both as they are", async () => {
    const replay = await ask(authz.url, 'GET', '/authz', traefikAsks('GET', '/orders/1', traefikCert(pems.bob, pems.ca)));
    assert.equal(replay.status, 401);
    assert.match(String(replay.headers['www-authenticate']), /^Bearer error="invalid_token"/);
    const write = await ask(authz.url, 'GET', '/authz', traefikAsks('POST', '/orders/1', traefikCert(pems.alice)));
    assert.equal(write.status, 403);
    assert.match(String(write.headers['www-authenticate']), /error="insufficient_scope".*scope="write"/);
    const none = await ask(authz.url, 'GET', '/authz', traefikAsks('GET', '/orders/1', undefined));
    assert.equal(none.status, 401);
  });

  test('the generated configuration requires a verified client certificate and strips forged headers first', async () => {
    const printed = await runCli([
      ...['authz', 'config', 'traefik', '--listen', '127.0.0.1:8443', '--upstream', 'http://127.0.0.1:9000', '--authz', authz.url],
      ...['--tls-ca', file('ca.crt'), '--tls-cert', file('server.crt'), '--tls-key', file('server.key')],
    ]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /--client-cert-format traefik/);
    const config = parse(printed.stdout) as TraefikConfig;
    const router = config.http.routers.certbound;
    assert.deepEqual(
      router.middlewares,
      ['certbound-strip', 'certbound-cert', 'certbound-authz'],
      'strip, then pass the certificate, then ask',
    );
    const mtls = config.tls.options[router.tls.options];
    assert.equal(mtls?.clientAuth.clientAuthType, 'RequireAndVerifyClientCert');
    assert.deepEqual(mtls?.clientAuth.caFiles, [file('ca.crt')]);
    const stripped = config.http.middlewares['certbound-strip']?.headers?.customRequestHeaders ?? {};
    for (const name of [
      'X-Forwarded-Tls-Client-Cert',
      'Client-Cert',
      'X-Forwarded-Client-Cert',
      'X-Ssl-Client-Cert',
      'X-Certbound-Subject',
    ])
      assert.equal(stripped[name], '', `${name} removed (an empty value deletes it)`);
    assert.deepEqual(config.http.middlewares['certbound-cert']?.passTLSClientCert, { pem: true });
    const forward = config.http.middlewares['certbound-authz']?.forwardAuth;
    assert.equal(forward?.address, `${authz.url}/authz`);
    assert.equal(forward?.trustForwardHeader, false);
    assert.deepEqual(forward?.authRequestHeaders, ['Authorization', 'X-Forwarded-Tls-Client-Cert']);
    assert.deepEqual(forward?.authResponseHeaders, [
      'X-Certbound-Subject',
      'X-Certbound-Client-Id',
      'X-Certbound-Scope',
      'X-Certbound-Thumbprint',
    ]);
    assert.equal(config.http.services[router.service]?.loadBalancer.servers[0]?.url, 'http://127.0.0.1:9000');
  });
});

interface TraefikConfig {
  http: {
    routers: { certbound: { middlewares: string[]; service: string; tls: { options: string } } };
    middlewares: Record<
      string,
      {
        headers?: { customRequestHeaders: Record<string, string> };
        passTLSClientCert?: unknown;
        forwardAuth?: { address: string; trustForwardHeader: boolean; authRequestHeaders: string[]; authResponseHeaders: string[] };
      }
    >;
    services: Record<string, { loadBalancer: { servers: Array<{ url: string }> } }>;
  };
  tls: { options: Record<string, { clientAuth: { clientAuthType: string; caFiles: string[] } }> };
}

describe("Envoy's HTTP ext_authz service (contract)", () => {
  let authz: CliServer;
  before(async () => {
    authz = await startServer([
      'authz',
      ...['--port', '0', '--grpc-port', '0', '--client-cert-format', 'xfcc', '--envoy-path-prefix', '/check', ...verifierFlags()],
      ...['--rule', 'GET /orders/ read', '--rule', 'DELETE /orders/ admin'],
    ]);
  });

  /**
   * Envoy's check request: the original method, path_prefix + the original path, the headers
   * allowed_headers lets through (authorization always; x-forwarded-client-cert as the HCM set it
   * with forward_client_cert_details SANITIZE_SET and set_current_client_cert_details cert/uri),
   * content-length 0, and Envoy's own x-envoy-* headers.
   */
  const envoyAsks = (pem: string | undefined, token = readToken): Record<string, string> => ({
    host: 'server.domain.com',
    authorization: `Bearer ${token}`,
    'content-length': '0',
    'x-envoy-expected-rq-timeout-ms': '2000',
    'x-envoy-internal': 'true',
    ...(pem === undefined
      ? {}
      : {
          'x-forwarded-client-cert': `By=spiffe://domain.com/gateway;Hash=${createHash('sha256')
            .update(Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'))
            .digest('hex')};Cert="${encodeURIComponent(pem)}";URI=spiffe://domain.com/alice`,
        }),
  });

  test('--grpc-port serves the gRPC Check beside it, and the ready line says where', () => {
    assert.match(authz.readyLine, /^certbound authz listening on http:\/\/127\.0\.0\.1:\d+ \(Envoy gRPC Check on 127\.0\.0\.1:\d+\)$/);
  });

  test('the original method and path come from the request line after the prefix', async () => {
    const allowed = await ask(authz.url, 'GET', '/check/orders/7?expand=1', envoyAsks(pems.alice));
    assert.equal(allowed.status, 200, allowed.body);
    assert.equal(allowed.headers['x-certbound-subject'], 'alice');
    // DELETE /orders/ needs admin: judged as DELETE, not as the GET a header could claim.
    const deleting = await ask(authz.url, 'DELETE', '/check/orders/7', { ...envoyAsks(pems.alice), 'x-forwarded-method': 'GET' });
    assert.equal(deleting.status, 403);
    assert.match(String(deleting.headers['www-authenticate']), /scope="admin"/);
    // In Envoy mode the X-Original-* / X-Forwarded-* headers are never read.
    const pointed = await ask(authz.url, 'GET', '/check/elsewhere', { ...envoyAsks(pems.alice), 'x-original-uri': '/orders/1' });
    assert.equal(pointed.status, 403);
  });

  test("bob's certificate: 401; no XFCC: 401; a path outside the prefix: 400", async () => {
    const replay = await ask(authz.url, 'GET', '/check/orders/7', envoyAsks(pems.bob));
    assert.equal(replay.status, 401);
    assert.match(String(replay.headers['www-authenticate']), /error="invalid_token"/);
    assert.equal((await ask(authz.url, 'GET', '/check/orders/7', envoyAsks(undefined))).status, 401);
    const outside = await ask(authz.url, 'GET', '/orders/7', envoyAsks(pems.alice));
    assert.equal(outside.status, 400);
    assert.match(outside.body, /not under the Envoy path prefix \/check/);
  });
});
