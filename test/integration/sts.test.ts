import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPublicKey } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify, createLocalJWKSet } from 'jose';
import { request } from 'undici';
import { computeThumbprint } from '../../src/core/thumbprint.js';
import { GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT } from '../../src/core/rfc.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import {
  agentFor,
  ALICE_SECRET,
  AUDIENCE,
  BOB_SECRET,
  exchangeRequest,
  ISSUER,
  postToken,
  startSts,
  UNPINNED_SECRET,
  type RunningSts,
} from '../helpers/servers.js';

let pki: TestPki;
let sts: RunningSts;
const cleanups: Array<() => unknown> = [];

before(async () => {
  pki = await createTestPki();
});

describe('STS token endpoint over real mTLS (RFC 8693, RFC 8705)', () => {
  before(async () => {
    sts = await startSts({ after: (fn: () => unknown) => cleanups.push(fn) }, pki);
  });

  test('RFC 8693 §2.2.1 form request: bound RFC 9068 token, response fields, no-store', async (t) => {
    const alice = agentFor(t, pki, pki.alice);
    const response = await postToken(alice, sts.url, exchangeRequest({ scope: 'read write' }));
    assert.equal(response.status, 200);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(response.headers.pragma, 'no-cache');
    const body = response.body;
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.issued_token_type, TOKEN_TYPE_ACCESS_TOKEN);
    assert.equal(body.scope, 'read write');
    const token = body.access_token as string;
    const header = decodeProtectedHeader(token);
    assert.deepEqual({ typ: header.typ, alg: header.alg, kid: header.kid }, { typ: 'at+jwt', alg: 'ES256', kid: sts.signingKey.kid });
    const claims = decodeJwt(token);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.aud, AUDIENCE);
    assert.equal(claims.client_id, 'alice');
    assert.equal(claims.scope, 'read write');
    assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
    assert.deepEqual(claims.cnf, { 'x5t#S256': computeThumbprint(pki.alice.certPem) });
    assert.equal(body.expires_in, 3600);
    assert.equal((claims.exp as number) - (claims.iat as number), body.expires_in);
    assert.ok(Math.abs((claims.iat as number) - Date.now() / 1000) < 60);
    // The signature checks out against the published JWKS.
    const jwks = (await (await request(`${sts.url}/.well-known/jwks.json`, { dispatcher: alice })).body.json()) as { keys: [] };
    await jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt' });
  });

  test('JSON request body (the seed clients), audience and resource arrays, requested jwt type', async (t) => {
    const alice = agentFor(t, pki, pki.alice);
    const response = await postToken(
      alice,
      sts.url,
      exchangeRequest({ audience: [AUDIENCE], resource: ['https://other.domain.com'], requested_token_type: TOKEN_TYPE_JWT }),
      'application/json',
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.issued_token_type, TOKEN_TYPE_JWT);
    assert.equal(response.body.scope, undefined, 'no scope requested, none granted');
    const claims = decodeJwt(response.body.access_token as string);
    assert.deepEqual(claims.aud, [AUDIENCE, 'https://other.domain.com']);
    assert.equal(claims.scope, undefined);
  });

  test('two tokens for the same request have distinct jti', async (t) => {
    const alice = agentFor(t, pki, pki.alice);
    const [a, b] = await Promise.all([postToken(alice, sts.url, exchangeRequest()), postToken(alice, sts.url, exchangeRequest())]);
    assert.notEqual(decodeJwt(a.body.access_token as string).jti, decodeJwt(b.body.access_token as string).jti);
  });

  test('an unpinned subject token binds to whichever registered certificate presents it', async (t) => {
    const bob = agentFor(t, pki, pki.bob);
    const response = await postToken(bob, sts.url, exchangeRequest({ subject_token: UNPINNED_SECRET }));
    assert.equal(response.status, 200);
    const claims = decodeJwt(response.body.access_token as string);
    assert.equal(claims.sub, 'carol');
    assert.equal(claims.client_id, 'bob');
    assert.deepEqual(claims.cnf, { 'x5t#S256': pki.bob.thumbprint });
  });

  describe('RFC 6749 §5.2 / RFC 8693 §2.2.2 errors, each with its status and description', () => {
    const cases: Array<{
      name: string;
      client: 'alice' | 'bob' | 'carol' | 'server' | 'none' | 'expired' | 'stranger';
      body?: Record<string, string | string[]> | string;
      contentType?: string;
      status: number;
      error: string;
      description: RegExp;
    }> = [
      {
        name: 'no client certificate',
        client: 'none',
        status: 401,
        error: 'invalid_client',
        description: /client certificate is required/,
      },
      {
        name: 'certificate from another CA',
        client: 'stranger',
        status: 401,
        error: 'invalid_client',
        description: /not issued by a trusted CA/,
      },
      {
        name: 'expired certificate',
        client: 'expired',
        status: 401,
        error: 'invalid_client',
        description: /not issued by a trusted CA or is not valid/,
      },
      {
        name: 'a server certificate (no clientAuth EKU) used as a client',
        client: 'server',
        status: 401,
        error: 'invalid_client',
        description: /not issued by a trusted CA or is not valid/,
      },
      {
        name: 'CA-verified but unregistered certificate',
        client: 'carol',
        status: 401,
        error: 'invalid_client',
        description: /not registered/,
      },
      {
        name: 'missing grant_type',
        client: 'alice',
        body: { subject_token: ALICE_SECRET },
        status: 400,
        error: 'invalid_request',
        description: /missing required parameter grant_type/,
      },
      {
        name: 'missing subject_token',
        client: 'alice',
        body: { grant_type: GRANT_TYPE_TOKEN_EXCHANGE, subject_token_type: TOKEN_TYPE_ACCESS_TOKEN, audience: AUDIENCE },
        status: 400,
        error: 'invalid_request',
        description: /missing required parameter subject_token$/,
      },
      {
        name: 'missing subject_token_type',
        client: 'alice',
        body: { grant_type: GRANT_TYPE_TOKEN_EXCHANGE, subject_token: ALICE_SECRET, audience: AUDIENCE },
        status: 400,
        error: 'invalid_request',
        description: /subject_token_type/,
      },
      {
        name: 'duplicated scope',
        client: 'alice',
        body: exchangeRequest({ scope: ['read', 'write'] }),
        status: 400,
        error: 'invalid_request',
        description: /scope must not be repeated/,
      },
      {
        name: 'no audience or resource',
        client: 'alice',
        body: { grant_type: GRANT_TYPE_TOKEN_EXCHANGE, subject_token: ALICE_SECRET, subject_token_type: TOKEN_TYPE_ACCESS_TOKEN },
        status: 400,
        error: 'invalid_request',
        description: /audience or resource is required/,
      },
      {
        name: 'relative resource',
        client: 'alice',
        body: exchangeRequest({ resource: '/api' }),
        status: 400,
        error: 'invalid_request',
        description: /absolute URI/,
      },
      {
        name: 'resource with fragment',
        client: 'alice',
        body: exchangeRequest({ resource: 'https://server.domain.com:8443/#x' }),
        status: 400,
        error: 'invalid_request',
        description: /without a fragment/,
      },
      {
        name: 'unsupported requested_token_type',
        client: 'alice',
        body: exchangeRequest({ requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }),
        status: 400,
        error: 'invalid_request',
        description: /requested_token_type/,
      },
      {
        name: 'unsupported subject_token_type',
        client: 'alice',
        body: exchangeRequest({ subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }),
        status: 400,
        error: 'invalid_request',
        description: /subject_token_type .* not accepted/,
      },
      {
        name: 'actor_token (delegation not offered)',
        client: 'alice',
        body: exchangeRequest({ actor_token: 'x', actor_token_type: TOKEN_TYPE_ACCESS_TOKEN }),
        status: 400,
        error: 'invalid_request',
        description: /actor_token/,
      },
      {
        name: 'text/plain body',
        client: 'alice',
        body: 'grant_type=x',
        contentType: 'text/plain',
        status: 415,
        error: 'invalid_request',
        description: /content type must be/,
      },
      {
        name: 'malformed JSON',
        client: 'alice',
        body: '{"grant_type":',
        contentType: 'application/json',
        status: 400,
        error: 'invalid_request',
        description: /not valid JSON/,
      },
      {
        name: 'body over the limit',
        client: 'alice',
        body: `subject_token=${'a'.repeat(20_000)}`,
        status: 413,
        error: 'invalid_request',
        description: /exceeds 16384 bytes/,
      },
      {
        name: 'unknown grant type',
        client: 'alice',
        body: { grant_type: 'password', username: 'alice' },
        status: 400,
        error: 'unsupported_grant_type',
        description: /grant_type password is not supported/,
      },
      {
        name: 'RFC 8693 §2.2.2 unknown subject token',
        client: 'alice',
        body: exchangeRequest({ subject_token: 'iamnotthewalrus' }),
        status: 400,
        error: 'invalid_request',
        description: /subject_token is not valid/,
      },
      {
        name: "RFC 8693 §2.2.2 bob presents alice's subject token",
        client: 'bob',
        body: exchangeRequest(),
        status: 400,
        error: 'invalid_request',
        description: /not issued to this client certificate/,
      },
      {
        name: 'scope outside the policy',
        client: 'bob',
        body: exchangeRequest({ subject_token: BOB_SECRET, scope: 'read admin' }),
        status: 400,
        error: 'invalid_scope',
        description: /scope not allowed: admin/,
      },
      {
        name: 'audience outside the policy',
        client: 'alice',
        body: exchangeRequest({ audience: 'https://evil.example' }),
        status: 400,
        error: 'invalid_target',
        description: /https:\/\/evil\.example/,
      },
      {
        name: 'resource outside the policy',
        client: 'alice',
        body: exchangeRequest({ resource: 'https://evil.example/api' }),
        status: 400,
        error: 'invalid_target',
        description: /evil/,
      },
    ];
    for (const testCase of cases) {
      test(`${testCase.name} → ${testCase.status} ${testCase.error}`, async (t) => {
        const client = {
          alice: pki.alice,
          bob: pki.bob,
          carol: pki.carol,
          server: pki.server,
          none: undefined,
          expired: pki.expired,
          stranger: pki.stranger,
        }[testCase.client];
        const agent = agentFor(t, pki, client);
        const response = await postToken(agent, sts.url, testCase.body ?? exchangeRequest(), testCase.contentType);
        assert.equal(response.status, testCase.status, JSON.stringify(response.body));
        assert.equal(response.body.error, testCase.error);
        assert.match(String(response.body.error_description), testCase.description);
        assert.equal(response.headers['content-type'], 'application/json');
        assert.equal(response.headers['cache-control'], 'no-store');
        assert.deepEqual(Object.keys(response.body).sort(), ['error', 'error_description']);
      });
    }

    test('unauthorized_client: a registered client not allowed token exchange', async (t) => {
      // alice is registered below with no grant types at all.
      const { parsePolicy } = await import('../../src/config/policy.js');
      const { hashSubjectToken } = await import('../../src/core/policy/authorize.js');
      const policy = parsePolicy({
        clients: [{ client_id: 'alice', certificate: { subject_dn: 'CN=alice, O=certbound dev' }, grant_types: [] }],
        subject_tokens: [{ sha256: hashSubjectToken(ALICE_SECRET), subject: 'alice', audiences: [AUDIENCE] }],
      });
      const restricted = await startSts(t, pki, { policy });
      const response = await postToken(agentFor(t, pki, pki.alice), restricted.url, exchangeRequest());
      assert.equal(response.status, 400);
      assert.equal(response.body.error, 'unauthorized_client');
      assert.match(String(response.body.error_description), /may not use grant_type urn:ietf:params:oauth:grant-type:token-exchange/);
    });

    test('subjectTokenError: invalid_grant renders subject-token refusals as RFC 6749 invalid_grant', async (t) => {
      const compat = await startSts(t, pki, { subjectTokenError: 'invalid_grant' });
      const unknown = await postToken(agentFor(t, pki, pki.alice), compat.url, exchangeRequest({ subject_token: 'iamnotthewalrus' }));
      assert.equal(unknown.status, 400);
      assert.deepEqual(unknown.body, { error: 'invalid_grant', error_description: 'subject_token is not valid' });
      const stolen = await postToken(agentFor(t, pki, pki.bob), compat.url, exchangeRequest());
      assert.deepEqual(stolen.body, {
        error: 'invalid_grant',
        error_description: 'subject_token was not issued to this client certificate',
      });
      // Other request errors keep their own code.
      const noAudience = await postToken(agentFor(t, pki, pki.alice), compat.url, exchangeRequest({ audience: [] }));
      assert.equal(noAudience.body.error, 'invalid_request');
    });

    test('refusals are reported as events with the certificate thumbprint, never the subject token', async (t) => {
      const before = sts.events.length;
      await postToken(agentFor(t, pki, pki.bob), sts.url, exchangeRequest());
      const events = sts.events.slice(before);
      assert.equal(events.length, 1);
      assert.equal(events[0]?.type, 'token.refused');
      assert.ok(!JSON.stringify(events).includes(ALICE_SECRET));
      assert.ok(JSON.stringify(events).includes(pki.bob.thumbprint));
    });
  });

  test('connection survives an error: keep-alive requests after a refusal succeed', async (t) => {
    const alice = agentFor(t, pki, pki.alice);
    assert.equal((await postToken(alice, sts.url, exchangeRequest({ scope: 'root' }))).status, 400);
    assert.equal((await postToken(alice, sts.url, exchangeRequest())).status, 200);
  });

  test('public endpoints answer without a client certificate', async (t) => {
    const anonymous = agentFor(t, pki);
    const jwks = await request(`${sts.url}/.well-known/jwks.json`, { dispatcher: anonymous });
    assert.equal(jwks.statusCode, 200);
    const keys = ((await jwks.body.json()) as { keys: Array<Record<string, unknown>> }).keys;
    assert.equal(keys.length, 1);
    assert.equal(keys[0]?.kid, sts.signingKey.kid);
    assert.equal(keys[0]?.alg, 'ES256');
    assert.equal(keys[0]?.use, 'sig');
    assert.equal(keys[0]?.d, undefined, 'no private part');
    // The published key is the signing key's public half.
    assert.ok(createPublicKey({ key: keys[0] as never, format: 'jwk' }).equals(createPublicKey(sts.signingKey.privateKey)));

    const metadata = await request(`${sts.url}/.well-known/oauth-authorization-server`, { dispatcher: anonymous });
    assert.equal(metadata.statusCode, 200);
    const doc = (await metadata.body.json()) as Record<string, unknown>;
    assert.equal(doc.issuer, ISSUER);
    assert.equal(doc.token_endpoint, `${ISSUER}/token`);
    assert.equal(doc.jwks_uri, `${ISSUER}/.well-known/jwks.json`);
    assert.equal(doc.tls_client_certificate_bound_access_tokens, true);
    assert.deepEqual(doc.grant_types_supported, [GRANT_TYPE_TOKEN_EXCHANGE, 'client_credentials']);
    assert.deepEqual(doc.token_endpoint_auth_methods_supported, ['tls_client_auth']);
    assert.deepEqual(doc.scopes_supported, ['read', 'write']);

    const health = await request(`${sts.url}/healthz`, { dispatcher: anonymous });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(await health.body.json(), { status: 'ok' });
  });

  test('unknown path → 404 JSON; wrong method → 405 JSON', async (t) => {
    const anonymous = agentFor(t, pki);
    const missing = await request(`${sts.url}/nope`, { dispatcher: anonymous });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(await missing.body.json(), { error: 'not_found', error_description: 'no such endpoint' });
    const wrong = await request(`${sts.url}/token`, { dispatcher: anonymous });
    assert.equal(wrong.statusCode, 405);
    assert.equal(wrong.headers.allow, 'POST');
    assert.equal(((await wrong.body.json()) as { error: string }).error, 'method_not_allowed');
  });

  test('TLS below 1.2 is refused at the handshake', async () => {
    const { connect } = await import('node:tls');
    const url = new URL(sts.url);
    const failure = await new Promise<Error | undefined>((resolve) => {
      const socket = connect({
        host: url.hostname,
        port: Number(url.port),
        ca: pki.ca.certPem,
        maxVersion: 'TLSv1.1',
        minVersion: 'TLSv1',
      });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', resolve);
    });
    assert.ok(failure instanceof Error, 'a TLS 1.1 handshake must fail');
  });
});

describe('STS internal failures', () => {
  test('a failure inside the STS is 500 server_error with a bland description, logged as server.error', async (t) => {
    const { createSigningKey } = await import('../../src/core/signing/signer.js');
    const good = await createSigningKey({ privateKey: pki.jwtKeyPem });
    // An EC key told to sign RS256: jose refuses at signing time, which the STS cannot foresee.
    const broken = await startSts(t, pki, { signingKey: { ...good, alg: 'RS256' } });
    const response = await postToken(agentFor(t, pki, pki.alice), broken.url, exchangeRequest());
    assert.equal(response.status, 500);
    assert.deepEqual(response.body, { error: 'server_error', error_description: 'internal error' });
    const logged = broken.events.filter((event) => event.type === 'server.error');
    assert.equal(logged.length, 1);
    assert.ok(!JSON.stringify(broken.events).includes(ALICE_SECRET));
    assert.equal(
      broken.events.some((event) => event.type === 'token.issued'),
      false,
    );
  });
});

describe('STS lifetime configuration', () => {
  test('expires_in always equals exp - iat (configured lifetime 120 s)', async (t) => {
    const short = await startSts(t, pki, { accessTokenLifetimeSeconds: 120, now: () => Date.UTC(2030, 0, 1) });
    const response = await postToken(agentFor(t, pki, pki.alice), short.url, exchangeRequest());
    assert.equal(response.body.expires_in, 120);
    const claims = decodeJwt(response.body.access_token as string);
    assert.equal(claims.iat, Date.UTC(2030, 0, 1) / 1000);
    assert.equal(claims.exp, Date.UTC(2030, 0, 1) / 1000 + 120);
  });

  test('invalid options are a TypeError at construction', async () => {
    const { createStsServer } = await import('../../src/sts/server.js');
    const { createSigningKey } = await import('../../src/core/signing/signer.js');
    const signingKey = await createSigningKey({ privateKey: pki.jwtKeyPem });
    const base = {
      issuer: ISSUER,
      signingKey,
      policy: { clients: [], subjectTokens: [], trustedIssuers: [] },
      tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    };
    assert.throws(() => createStsServer({ ...base, issuer: 'http://sts' }), { name: 'TypeError', message: /https URL/ });
    assert.throws(() => createStsServer({ ...base, accessTokenLifetimeSeconds: 0 }), {
      name: 'TypeError',
      message: /accessTokenLifetimeSeconds/,
    });
    assert.throws(() => createStsServer({ ...base, accessTokenLifetimeSeconds: 1.5 }), { name: 'TypeError' });
    const { parsePolicy } = await import('../../src/config/policy.js');
    const unserved = parsePolicy({ clients: [{ client_id: 'a', certificate: { subject_dn: 'CN=a' }, grant_types: ['password'] }] });
    assert.throws(() => createStsServer({ ...base, policy: unserved }), {
      name: 'PolicyError',
      message:
        /^policy\.clients\[0\]\.grant_types\[0\]: unknown grant type \(supported: urn:ietf:params:oauth:grant-type:token-exchange, client_credentials\)$/,
    });
  });
});

after(async () => {
  for (const cleanup of cleanups) await cleanup();
});
