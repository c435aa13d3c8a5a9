// The gateway's external authorization endpoint over real HTTP on loopback, asked exactly as
// nginx's auth_request subrequest asks it (X-Original-Method, X-Original-URI, the verified client
// certificate URL-encoded in X-SSL-Client-Cert) and as Traefik/Caddy do (X-Forwarded-Method/-Uri).
// Tokens come from a real STS over mutual TLS.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, test } from 'node:test';
import { request } from 'undici';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import { createAuthzHandler, type AuthzEvent, type AuthzHandlerOptions } from '../../src/http/authz.js';
import { loadJwksSource } from '../../src/keys/jwks-source.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, AUDIENCE, exchangeRequest, ISSUER, postToken, startSts } from '../helpers/servers.js';

let pki: TestPki;
let readToken: string;
const RULES = ['GET /orders/ read', 'POST /orders/ write', 'GET /admin/ admin'];

before(async () => {
  pki = await createTestPki();
});

async function startAuthz(t: { after(fn: () => unknown): void }, extra: Partial<AuthzHandlerOptions> = {}) {
  const sts = await startSts(t, pki);
  const answer = await postToken(agentFor(t, pki, pki.alice), sts.url, exchangeRequest({ scope: 'read' }));
  readToken = (answer.body as { access_token: string }).access_token;
  const keys = await loadJwksSource(`${sts.url}/.well-known/jwks.json`, { ca: pki.ca.certPem });
  const events: AuthzEvent[] = [];
  const server = createServer(
    createAuthzHandler({
      verifier: createBoundTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE }),
      trustedProxy: { addresses: ['127.0.0.1'], format: 'pem-urlencoded' },
      rules: RULES,
      onEvent: (event) => events.push(event),
      ...extra,
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const ask = async (headers: Record<string, string | string[]>) => {
    const response = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/authz`, { headers });
    await response.body.dump();
    return { status: response.statusCode, headers: response.headers };
  };
  return { ask, events };
}

const certHeader = (pem: string): string => encodeURIComponent(pem);
const withoutAuthorization = ({ authorization: _dropped, ...rest }: Record<string, string>): Record<string, string> => rest;
const nginxAsks = (pem: string | undefined, method: string, uri: string, token = readToken): Record<string, string> => ({
  'x-original-method': method,
  'x-original-uri': uri,
  ...(pem === undefined ? {} : { 'x-ssl-client-cert': certHeader(pem) }),
  authorization: `Bearer ${token}`,
});

test("alice's certificate with alice's token: 200 and every identity header for the upstream", async (t) => {
  const { ask, events } = await startAuthz(t);
  const answer = await ask(nginxAsks(pki.alice.certPem, 'GET', '/orders/7?expand=1'));
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['x-certbound-subject'], 'alice');
  assert.equal(answer.headers['x-certbound-client-id'], 'alice');
  assert.equal(answer.headers['x-certbound-scope'], 'read');
  assert.equal(answer.headers['x-certbound-thumbprint'], pki.alice.thumbprint);
  assert.deepEqual(
    events.map((event) => [event.type, event.method, event.path]),
    [['authz.allowed', 'GET', '/orders/7']],
  );
});

test('refusals: another certificate 401, none 401, a missing scope 403 with the rule’s scope, no rule 403, traversal 403', async (t) => {
  const { ask } = await startAuthz(t);
  const cases: Array<[string, Record<string, string>, number, RegExp]> = [
    [
      'bob replays it',
      nginxAsks(pki.bob.certPem, 'GET', '/orders/7'),
      401,
      /error="invalid_token", error_description="token is bound to a different client certificate"/,
    ],
    ['no certificate forwarded', nginxAsks(undefined, 'GET', '/orders/7'), 401, /error="invalid_token"/],
    [
      'a scope it lacks',
      nginxAsks(pki.alice.certPem, 'POST', '/orders/7'),
      403,
      /error="insufficient_scope", error_description="token lacks the required scope write", scope="write"/,
    ],
    ['no rule', nginxAsks(pki.alice.certPem, 'DELETE', '/orders/7'), 403, /^Bearer$/],
    ['a dot-segment walk', nginxAsks(pki.alice.certPem, 'GET', '/orders/../admin/x'), 403, /^Bearer$/],
    ['no token', withoutAuthorization(nginxAsks(pki.alice.certPem, 'GET', '/orders/7')), 401, /^Bearer$/],
    [
      'an empty Authorization header',
      { ...nginxAsks(pki.alice.certPem, 'GET', '/orders/7'), authorization: '' },
      400,
      /error="invalid_request"/,
    ],
    [
      'a garbage certificate header',
      { ...nginxAsks(undefined, 'GET', '/orders/7'), 'x-ssl-client-cert': 'not%20a%20cert' },
      400,
      /error="invalid_request"/,
    ],
  ];
  for (const [what, headers, status, challenge] of cases) {
    const answer = await ask(headers);
    assert.equal(answer.status, status, what);
    assert.match(String(answer.headers['www-authenticate']), challenge, what);
    assert.equal(answer.headers['x-certbound-subject'], undefined, `${what}: no identity on a refusal`);
  }
});

test('two original-URI headers, none at all, or a certificate header from a peer that is not the proxy: refused, never allowed', async (t) => {
  const { ask } = await startAuthz(t);
  const doubled = await ask({ ...nginxAsks(pki.alice.certPem, 'GET', '/orders/7'), 'x-original-uri': ['/orders/7', '/admin/x'] });
  assert.equal(doubled.status, 400);
  // A proxy that forgot the original request: authz never judges its own request line instead.
  const { 'x-original-method': _method, 'x-original-uri': _uri, ...unlabelled } = nginxAsks(pki.alice.certPem, 'GET', '/orders/7');
  const blind = await ask(unlabelled);
  assert.equal(blind.status, 400);
  assert.match(String(blind.headers['www-authenticate']), /the proxy sent no original method and URI/);
  const elsewhere = await startAuthz(t, { trustedProxy: { addresses: ['10.9.9.9'], format: 'pem-urlencoded' } });
  const forged = await elsewhere.ask(nginxAsks(pki.alice.certPem, 'GET', '/orders/7'));
  assert.equal(forged.status, 400);
  assert.match(String(forged.headers['www-authenticate']), /x-ssl-client-cert header from a peer that is not a trusted proxy/);
});

test('Traefik and Caddy name the original request X-Forwarded-Method / X-Forwarded-Uri', async (t) => {
  const { ask } = await startAuthz(t);
  const answer = await ask({
    'x-forwarded-method': 'GET',
    'x-forwarded-uri': '/orders/1',
    'x-ssl-client-cert': certHeader(pki.alice.certPem),
    authorization: `Bearer ${readToken}`,
  });
  assert.equal(answer.status, 200);
  const denied = await ask({
    'x-forwarded-method': 'GET',
    'x-forwarded-uri': '/admin/x',
    'x-ssl-client-cert': certHeader(pki.alice.certPem),
    authorization: `Bearer ${readToken}`,
  });
  assert.equal(denied.status, 403);
});

test('bad options are ConfigErrors at construction: no rules, a bad rule, a bad header name', () => {
  const verifier = createBoundTokenVerifier({ keys: { keys: [] }, issuer: ISSUER, audience: AUDIENCE });
  const base = { verifier, trustedProxy: { addresses: ['127.0.0.1'], format: 'pem-urlencoded' as const } };
  assert.throws(() => createAuthzHandler({ ...base, rules: [] }), /must give at least one rule \(or give "defaultRule"\)/);
  // A default rule alone is a policy: every plain path needs it.
  assert.equal(typeof createAuthzHandler({ ...base, rules: [], defaultRule: 'read' }), 'function');
  assert.throws(
    () => createAuthzHandler({ ...base, rules: ['GET /x'], identityHeaders: { subject: 'x-certbound-scope' } }),
    /identityHeaders must name four different headers/,
  );
  assert.throws(() => createAuthzHandler({ ...base, rules: ['get /x'] }), /rule "get \/x": the method must be an HTTP method/);
  assert.throws(
    () => createAuthzHandler({ ...base, rules: ['GET /x'], identityHeaders: { subject: 'bad header' } }),
    /must be a header name/,
  );
});

test('a hook that throws on an allowed request fails closed: 500, no identity headers, the server keeps answering', async (t) => {
  const { ask } = await startAuthz(t, {
    onEvent: (event) => {
      if (event.type === 'authz.allowed') throw new Error('log sink down');
    },
  });
  const answer = await ask(nginxAsks(pki.alice.certPem, 'GET', '/orders/7'));
  assert.equal(answer.status, 500);
  assert.equal(answer.headers['x-certbound-subject'], undefined);
  assert.equal((await ask(nginxAsks(pki.bob.certPem, 'GET', '/orders/7'))).status, 401);
});
