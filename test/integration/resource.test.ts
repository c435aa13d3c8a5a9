import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';
import { Agent, request } from 'undici';
import { buildAccessTokenClaims } from '../../src/core/claims.js';
import { createSigningKey, type SigningKey } from '../../src/core/signing/signer.js';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import { createResourceServer, type ResourceEvent } from '../../src/cli/servers/resource-server.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, AUDIENCE, exchangeRequest, ISSUER, postToken, startSts } from '../helpers/servers.js';

let pki: TestPki;
let key: SigningKey;
let resourceUrl: string;
let aliceToken: string;
const events: ResourceEvent[] = [];
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

async function startResource(now?: () => number, requiredScopes?: string[]): Promise<string> {
  const verifier = createBoundTokenVerifier({
    keys: { keys: [key.publicJwk] },
    issuer: ISSUER,
    audience: AUDIENCE,
    ...(now === undefined ? {} : { now }),
  });
  const server = createResourceServer({
    tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    verifier,
    onEvent: (event) => events.push(event),
    ...(requiredScopes === undefined ? {} : { requiredScopes }),
  });
  const url = await server.listen(0, '127.0.0.1');
  cleanups.push(() => server.close());
  return url.origin;
}

before(async () => {
  pki = await createTestPki();
  key = await createSigningKey({ privateKey: pki.jwtKeyPem });
  const sts = await startSts(suite, pki, { signingKey: key });
  const response = await postToken(agentFor(suite, pki, pki.alice), sts.url, exchangeRequest({ scope: 'read' }));
  aliceToken = response.body.access_token as string;
  resourceUrl = await startResource();
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Answer {
  status: number;
  challenge: string | undefined;
  body: Record<string, unknown>;
}

async function call(agent: Agent, headers: Record<string, string> = {}, path = '/', base = resourceUrl): Promise<Answer> {
  const response = await request(`${base}${path}`, { dispatcher: agent, headers });
  const text = await response.body.text();
  const challenge = response.headers['www-authenticate'];
  return {
    status: response.statusCode,
    challenge: challenge === undefined ? undefined : String(challenge),
    body: text === '' ? {} : JSON.parse(text),
  };
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

function assertInvalidToken(answer: Answer, description: RegExp): void {
  assert.equal(answer.status, 401, JSON.stringify(answer.body));
  assert.equal(answer.body.error, 'invalid_token');
  assert.match(String(answer.body.error_description), description);
  assert.match(answer.challenge ?? '', /^Bearer error="invalid_token", error_description="[^"]+"$/);
  assert.match(answer.challenge ?? '', description);
}

/** A token like the STS would issue for alice, with `change` applied to claims and header. */
async function craft(
  change: { claims?: Record<string, unknown>; header?: Record<string, unknown>; drop?: string[] } = {},
): Promise<string> {
  const claims: Record<string, unknown> = {
    ...buildAccessTokenClaims({
      issuer: ISSUER,
      subject: 'alice',
      audience: [AUDIENCE],
      clientId: 'alice',
      thumbprint: pki.alice.thumbprint,
      lifetimeSeconds: 300,
      issuedAt: Math.floor(Date.now() / 1000),
    }),
    ...change.claims,
  };
  for (const name of change.drop ?? []) delete claims[name];
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...change.header }).sign(key.privateKey);
}

describe('resource server: RFC 8705 §3 binding over real TLS', () => {
  test('the STS token with the certificate it is bound to: 200 with the verified subject', async (t) => {
    const answer = await call(agentFor(t, pki, pki.alice), bearer(aliceToken));
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, {
      message: 'hello alice',
      subject: 'alice',
      client_id: 'alice',
      scope: 'read',
      'x5t#S256': pki.alice.thumbprint,
    });
    assert.equal(answer.challenge, undefined);
  });

  test('RFC 9110 §11.1 the scheme is case-insensitive: "bearer" works', async (t) => {
    const answer = await call(agentFor(t, pki, pki.alice), { authorization: `bearer ${aliceToken}` });
    assert.equal(answer.status, 200);
  });

  test("alice's token replayed with bob's certificate: 401 invalid_token", async (t) => {
    assertInvalidToken(await call(agentFor(t, pki, pki.bob), bearer(aliceToken)), /bound to a different client certificate/);
  });

  test("alice's token without a client certificate: 401 invalid_token", async (t) => {
    assertInvalidToken(await call(agentFor(t, pki), bearer(aliceToken)), /a client certificate is required/);
  });

  test('a certificate from another CA (same CN) is refused even with a matching-looking token', async (t) => {
    const forged = await craft({ claims: { cnf: { 'x5t#S256': pki.stranger.thumbprint } } });
    assertInvalidToken(await call(agentFor(t, pki, pki.stranger), bearer(forged)), /not issued by a trusted CA/);
  });

  test('an expired client certificate is refused', async (t) => {
    const token = await craft({ claims: { cnf: { 'x5t#S256': pki.expired.thumbprint } } });
    assertInvalidToken(await call(agentFor(t, pki, pki.expired), bearer(token)), /not issued by a trusted CA or is not valid/);
  });

  test('RFC 6750 §3.1 no token: 401 with a bare Bearer challenge', async (t) => {
    const answer = await call(agentFor(t, pki, pki.alice));
    assert.equal(answer.status, 401);
    assert.equal(answer.challenge, 'Bearer');
    assert.equal(answer.body.error, 'unauthorized');
  });

  test('a token in the query string is never read', async (t) => {
    const answer = await call(agentFor(t, pki, pki.alice), {}, `/?access_token=${aliceToken}`);
    assert.equal(answer.status, 401);
    assert.equal(answer.challenge, 'Bearer');
  });

  test('RFC 6750 §3.1 malformed Authorization header: 400 invalid_request', async (t) => {
    const answer = await call(agentFor(t, pki, pki.alice), { authorization: 'Bearer two words' });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'invalid_request');
    assert.match(answer.challenge ?? '', /^Bearer error="invalid_request"/);
  });

  describe('every broken token is refused with 401 invalid_token and says why', () => {
    const publicJwkBytes = (): Buffer => Buffer.from(JSON.stringify(key.publicJwk));
    const cases: Array<{ name: string; token: () => Promise<string>; description: RegExp }> = [
      { name: 'wrong issuer', token: () => craft({ claims: { iss: 'https://evil.example' } }), description: /iss claim/ },
      { name: 'wrong audience', token: () => craft({ claims: { aud: 'https://elsewhere.example' } }), description: /aud claim/ },
      { name: 'expired', token: () => craft({ claims: { iat: 1_000_000, exp: 1_000_300 } }), description: /expired/ },
      {
        name: 'not yet valid (nbf in an hour)',
        token: () => craft({ claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } }),
        description: /nbf claim/,
      },
      { name: 'unknown kid', token: () => craft({ header: { kid: 'not-a-known-key' } }), description: /unknown key/ },
      {
        name: 'alg none',
        token: async () => {
          const claims = JSON.parse(Buffer.from((await craft()).split('.')[1] as string, 'base64url').toString());
          return `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
        },
        description: /algorithm is not allowed/,
      },
      {
        name: 'HS256 keyed with the public key',
        token: async () => {
          const claims = JSON.parse(Buffer.from((await craft()).split('.')[1] as string, 'base64url').toString());
          return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'at+jwt' }).sign(publicJwkBytes());
        },
        description: /algorithm is not allowed/,
      },
      { name: 'missing cnf (a plain bearer token)', token: () => craft({ drop: ['cnf'] }), description: /not certificate-bound/ },
      {
        name: 'cnf with another confirmation method only (jkt)',
        token: () => craft({ claims: { cnf: { jkt: 'abc' } } }),
        description: /no cnf x5t#S256/,
      },
      {
        name: 'padded standard-base64 thumbprint of the right certificate (the seed sample encoding)',
        token: () => craft({ claims: { cnf: { 'x5t#S256': createHash('sha256').update(pki.alice.der).digest('base64') } } }),
        description: /43 base64url characters without padding/,
      },
      { name: 'typ JWT instead of at+jwt', token: () => craft({ header: { typ: 'JWT' } }), description: /typ header must be at\+jwt/ },
      {
        name: 'tampered payload',
        token: async () => {
          const [h, p, s] = (await craft()).split('.') as [string, string, string];
          const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
          return `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${s}`;
        },
        description: /signature is invalid/,
      },
      { name: 'not a JWT', token: async () => 'abc.def.ghi', description: /not a valid/ },
      { name: 'nbf of the wrong type', token: () => craft({ claims: { nbf: 'yesterday' } }), description: /nbf claim is malformed/ },
    ];
    for (const testCase of cases) {
      test(testCase.name, async (t) => {
        assertInvalidToken(await call(agentFor(t, pki, pki.alice), bearer(await testCase.token())), testCase.description);
      });
    }
  });

  test('a token the injected clock says has expired is refused (clock skew bounded to 30 s)', async (t) => {
    const late = await startResource(() => Date.now() + 3600_000 + 31_000);
    assertInvalidToken(await call(agentFor(t, pki, pki.alice), bearer(aliceToken), '/', late), /expired/);
    const withinSkew = await startResource(() => Date.now() + 3600_000 + 20_000);
    assert.equal((await call(agentFor(t, pki, pki.alice), bearer(aliceToken), '/', withinSkew)).status, 200);
  });

  test('refusal events carry the code and no token', async (t) => {
    const before = events.length;
    await call(agentFor(t, pki, pki.bob), bearer(aliceToken));
    const refusal = events.slice(before).find((event) => event.type === 'request.refused');
    assert.equal(refusal?.type === 'request.refused' ? refusal.code : undefined, 'CB_CNF_MISMATCH');
    assert.ok(!JSON.stringify(events).includes(aliceToken));
  });

  test('RFC 6750 §3.1 a token without a required scope: 403 insufficient_scope naming the scope', async (t) => {
    const strict = await startResource(undefined, ['write']);
    const answer = await call(agentFor(t, pki, pki.alice), bearer(aliceToken), '/', strict);
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error, 'insufficient_scope');
    assert.equal(
      answer.challenge,
      'Bearer error="insufficient_scope", error_description="token lacks the required scope write", scope="write"',
    );
    const readOnly = await startResource(undefined, ['read']);
    assert.equal((await call(agentFor(t, pki, pki.alice), bearer(aliceToken), '/', readOnly)).status, 200);
  });

  test('signing keys that cannot be fetched: 503 with Retry-After, blamed on no one', async (t) => {
    const verifier = createBoundTokenVerifier({
      keys: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:1');
      },
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    const server = createResourceServer({ tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem }, verifier });
    const url = await server.listen(0, '127.0.0.1');
    t.after(() => server.close());
    const response = await request(`${url.origin}/`, { dispatcher: agentFor(t, pki, pki.alice), headers: bearer(aliceToken) });
    assert.equal(response.statusCode, 503);
    assert.equal(response.headers['retry-after'], '5');
    assert.equal(response.headers['www-authenticate'], undefined, 'not an authentication failure');
    assert.deepEqual(await response.body.json(), {
      error: 'temporarily_unavailable',
      error_description: 'the issuer signing keys are unavailable',
    });
  });

  test('a protected handler that throws: 500 server_error, no stack, refusal reported', async (t) => {
    const { createServer } = await import('node:https');
    const { protect } = await import('../../src/http/node.js');
    const { serverTlsOptions } = await import('../../src/server/tls.js');
    const refused: string[] = [];
    const verifier = createBoundTokenVerifier({ keys: { keys: [key.publicJwk] }, issuer: ISSUER, audience: AUDIENCE });
    const server = createServer(
      serverTlsOptions({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem }),
      protect(
        () => {
          throw new Error('database password is hunter2');
        },
        { verifier, onEvent: (event) => void ('error' in event && refused.push(event.error.code)) },
      ),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as { port: number };
    const answer = await call(agentFor(t, pki, pki.alice), bearer(aliceToken), '/', `https://127.0.0.1:${port}`);
    assert.equal(answer.status, 500);
    assert.deepEqual(answer.body, { error: 'server_error', error_description: 'internal error' });
    assert.equal(answer.challenge, undefined);
    assert.deepEqual(refused, ['CB_INTERNAL']);
  });

  test('wrong method on / is 405 with Allow', async (t) => {
    const response = await request(`${resourceUrl}/`, { method: 'DELETE', dispatcher: agentFor(t, pki, pki.alice) });
    assert.equal(response.statusCode, 405);
    assert.equal(response.headers.allow, 'GET, HEAD');
    await response.body.dump();
  });

  test('health is public; unknown paths are 404', async (t) => {
    const anonymous = agentFor(t, pki);
    assert.equal((await call(anonymous, {}, '/healthz')).status, 200);
    const missing = await call(anonymous, {}, '/admin');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'not_found');
  });
});
