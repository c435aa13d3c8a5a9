// Trusted-issuer JWTs and delegation edges over real mTLS, beyond sts-complete.test.ts: missing
// claims, unknown kid, algorithm confusion (none, HS256, ES256 to an RS256-only issuer), iat in
// the future, actor-token refusals, static actors, may_act with iss, and jwks_uri failures.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer } from 'node:https';
import { createSecretKey } from 'node:crypto';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import type { Agent } from 'undici';
import { hashSubjectToken } from '../../src/core/policy/authorize.js';
import { parsePolicy } from '../../src/config/policy.js';
import { GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT } from '../../src/core/rfc.js';
import { createSigningKey, type SigningKey } from '../../src/core/signing/signer.js';
import { createCertificateAuthority, type IssuedCertificate } from '../../src/pki/generate.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, ALICE_SECRET, AUDIENCE, postToken, startSts, type JsonResponse } from '../helpers/servers.js';

const IDP = 'https://idp.example.com';
const OTHER_IDP = 'https://other-idp.example.com';
const RS_ONLY_IDP = 'https://rsa-only.example.com';
const STS_AUDIENCE = 'https://sts.domain.com';
const ROBOT_SECRET = 'i-am-the-robot';

let pki: TestPki;
let key: SigningKey;
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let idpKey: PrivateKey;
let otherIdpKey: PrivateKey;
let partner: IssuedCertificate;
/** The IdP's public JWK, served by the jwks_uri servers. */
let idpPublicJwk: Record<string, unknown>;
let stsUrl: string;
let grantStsUrl: string;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  pki = await createTestPki();
  key = await createSigningKey({ privateKey: pki.jwtKeyPem });
  const [idp, otherIdp, lookalike] = await Promise.all([
    generateKeyPair('ES256', { extractable: true }),
    generateKeyPair('ES256', { extractable: true }),
    // Self-signed, subject "CN=alice, O=certbound dev": registered as its own self-signed client.
    createCertificateAuthority({ commonName: 'alice' }),
  ]);
  idpKey = idp.privateKey;
  otherIdpKey = otherIdp.privateKey;
  partner = lookalike;
  const idpJwk = { ...(await exportJWK(idp.publicKey)), kid: 'idp-1', alg: 'ES256' };
  idpPublicJwk = idpJwk;
  const otherJwk = { ...(await exportJWK(otherIdp.publicKey)), kid: 'other-1', alg: 'ES256' };
  const subjects = [
    { subject: 'user-*', audiences: [AUDIENCE], may_act: ['svc-*'] },
    { subject: 'pinned-*', client_certificate: { subject_dn: 'CN=alice, O=certbound dev' }, audiences: [AUDIENCE] },
    { subject: 'svc-*', audiences: [AUDIENCE] },
  ];
  const policy = parsePolicy({
    clients: [
      { client_id: 'alice', certificate: { subject_dn: 'CN=alice, O=certbound dev' } },
      { client_id: 'partner', auth_method: 'self_signed_tls_client_auth', certificates: [partner.thumbprint] },
    ],
    subject_tokens: [
      { sha256: hashSubjectToken(ALICE_SECRET), subject: 'alice', audiences: [AUDIENCE], may_act: ['svc-*', 'robot'] },
      { sha256: hashSubjectToken(ROBOT_SECRET), subject: 'robot', audiences: [AUDIENCE] },
    ],
    trusted_issuers: [
      {
        issuer: IDP,
        jwks: { keys: [idpJwk] },
        audiences: [STS_AUDIENCE],
        algorithms: ['ES256'],
        max_age: 600,
        copy_claims: ['groups', 'department'],
        subjects,
      },
      { issuer: OTHER_IDP, jwks: { keys: [otherJwk] }, audiences: [STS_AUDIENCE], subjects },
      // Holds an EC key, yet allows only RS256: an ES256 token must be refused before any key is used.
      {
        issuer: RS_ONLY_IDP,
        jwks: { keys: [{ kty: idpJwk.kty, crv: idpJwk.crv, x: idpJwk.x, y: idpJwk.y, kid: 'rs-1' }] },
        audiences: [STS_AUDIENCE],
        algorithms: ['RS256'],
        subjects,
      },
    ],
  });
  const options = { signingKey: key, policy };
  stsUrl = (await startSts(suite, pki, options)).url;
  grantStsUrl = (await startSts(suite, pki, { ...options, subjectTokenError: 'invalid_grant' })).url;
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const as = (cert: IssuedCertificate | undefined): Agent => agentFor(suite, pki, cert);
const claimsOf = (response: JsonResponse): JWTPayload => decodeJwt(response.body.access_token as string);
const nowSeconds = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function assertRefused(response: JsonResponse, status: number, error: string, description: RegExp): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body.error, error, JSON.stringify(response.body));
  assert.match(String(response.body.error_description), description);
}

interface Minted {
  iss?: string;
  signer?: PrivateKey;
  header?: Record<string, unknown>;
  /** Claim overrides; undefined deletes. */
  claims?: Record<string, unknown>;
}

/** A JWT from `iss` (default the IdP), signed by `signer` (default that issuer's key). */
async function mint({ iss = IDP, signer, header = {}, claims = {} }: Minted = {}): Promise<string> {
  const now = nowSeconds();
  const payload: Record<string, unknown> = { iss, sub: 'user-1', aud: STS_AUDIENCE, iat: now, exp: now + 300, ...claims };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete payload[name];
  const kid = iss === OTHER_IDP ? 'other-1' : iss === RS_ONLY_IDP ? 'rs-1' : 'idp-1';
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid, ...header })
    .sign(signer ?? (iss === OTHER_IDP ? otherIdpKey : idpKey));
}

const exchange = (subjectToken: string, extra: Record<string, string> = {}) => ({
  grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
  subject_token: subjectToken,
  subject_token_type: TOKEN_TYPE_JWT,
  audience: AUDIENCE,
  ...extra,
});

describe('trusted-issuer JWTs: more refusals, in both error modes', () => {
  const refusals: Array<{ name: string; token: () => Promise<string>; description: RegExp }> = [
    {
      name: 'no sub claim to map',
      token: () => mint({ claims: { sub: undefined } }),
      description: /^subject_token has no sub claim to use as the subject$/,
    },
    { name: 'no exp claim', token: () => mint({ claims: { exp: undefined } }), description: /^subject_token exp claim is missing$/ },
    {
      name: 'no iat claim while the issuer has max_age',
      token: () => mint({ claims: { iat: undefined } }),
      description: /^subject_token iat claim is missing$/,
    },
    {
      name: 'iat an hour in the future',
      token: () => mint({ claims: { iat: nowSeconds() + 3600, exp: nowSeconds() + 7200 } }),
      description: /^subject_token was issued in the future$/,
    },
    {
      name: 'a kid the issuer does not publish',
      token: () => mint({ header: { kid: 'rotated-away' } }),
      description: /^subject_token was signed with a key the issuer does not publish$/,
    },
    {
      name: 'ES256 to an issuer that allows only RS256',
      token: () => mint({ iss: RS_ONLY_IDP }),
      description: /^subject_token signing algorithm is not allowed for this issuer$/,
    },
    {
      name: 'HS256 keyed with the issuer public key (algorithm confusion)',
      token: async () => {
        const now = nowSeconds();
        return new SignJWT({ iss: IDP, sub: 'user-1', aud: STS_AUDIENCE, iat: now, exp: now + 300 })
          .setProtectedHeader({ alg: 'HS256', kid: 'idp-1' })
          .sign(createSecretKey(Buffer.from('any shared secret at all, thirty-two bytes+')));
      },
      description: /^subject_token signing algorithm is not allowed for this issuer$/,
    },
    {
      name: 'an unsecured JWT (alg none)',
      token: async () =>
        `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: IDP, sub: 'user-1', aud: STS_AUDIENCE, iat: nowSeconds(), exp: nowSeconds() + 300 })}.`,
      description: /^subject_token signing algorithm is not allowed for this issuer$/,
    },
    {
      name: 'a token signed by another trusted issuer but naming this one',
      token: () => mint({ signer: otherIdpKey }),
      description: /^subject_token signature is invalid$/,
    },
  ];
  for (const [mode, url] of [
    ['invalid_request', () => stsUrl],
    ['invalid_grant', () => grantStsUrl],
  ] as const) {
    for (const refusal of refusals) {
      test(`${mode} mode: ${refusal.name}`, async () => {
        assertRefused(await postToken(as(pki.alice), url(), exchange(await refusal.token())), 400, mode, refusal.description);
      });
    }
  }

  test('copy_claims copies only the listed claims that are present', async () => {
    const response = await postToken(as(pki.alice), stsUrl, exchange(await mint({ claims: { groups: ['staff'], role: 'admin' } })));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const claims = claimsOf(response);
    assert.deepEqual(claims.groups, ['staff']);
    assert.equal('department' in claims, false);
    assert.equal('role' in claims, false);
  });

  test('a rule pinned by subject DN is for the CA-verified client, not a self-signed one with the same DN', async () => {
    assertRefused(
      await postToken(as(partner), stsUrl, exchange(await mint({ claims: { sub: 'pinned-1' } }))),
      400,
      'invalid_request',
      /subject_token was not issued to this client certificate/,
    );
  });

  test('the same pinned rule accepts the CA-verified alice', async () => {
    const response = await postToken(as(pki.alice), stsUrl, exchange(await mint({ claims: { sub: 'pinned-1' } })));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(claimsOf(response).sub, 'pinned-1');
  });
});

describe('delegation edges (RFC 8693 §1.1, §4.1, §4.4)', () => {
  const staticSubject = exchange(ALICE_SECRET, { subject_token_type: TOKEN_TYPE_ACCESS_TOKEN });

  test('a static actor token: act names the actor and no issuer', async () => {
    const response = await postToken(as(pki.alice), stsUrl, {
      ...staticSubject,
      actor_token: ROBOT_SECRET,
      actor_token_type: TOKEN_TYPE_ACCESS_TOKEN,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(claimsOf(response).sub, 'alice');
    assert.deepEqual(claimsOf(response).act, { sub: 'robot' });
  });

  test('a federated subject delegating to a federated actor, and a may_act claim naming the actor with its iss', async () => {
    const plain = await postToken(as(pki.alice), stsUrl, {
      ...exchange(await mint()),
      actor_token: await mint({ claims: { sub: 'svc-orders' } }),
      actor_token_type: TOKEN_TYPE_JWT,
    });
    assert.equal(plain.status, 200, JSON.stringify(plain.body));
    assert.deepEqual(claimsOf(plain).act, { sub: 'svc-orders', iss: IDP });
    const named = await mint({ claims: { may_act: { sub: 'svc-orders', iss: IDP } } });
    const response = await postToken(as(pki.alice), stsUrl, {
      ...exchange(named),
      actor_token: await mint({ claims: { sub: 'svc-orders' } }),
      actor_token_type: TOKEN_TYPE_JWT,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(claimsOf(response).sub, 'user-1');
    assert.equal('may_act' in claimsOf(response), false);
  });

  test('a may_act claim whose iss is another issuer refuses an actor with the same sub', async () => {
    const named = await mint({ claims: { may_act: { sub: 'svc-orders', iss: IDP } } });
    const actor = await mint({ iss: OTHER_IDP, claims: { sub: 'svc-orders' } });
    assertRefused(
      await postToken(as(pki.alice), stsUrl, { ...exchange(named), actor_token: actor, actor_token_type: TOKEN_TYPE_JWT }),
      400,
      'invalid_request',
      /^the subject token's may_act claim does not name this actor$/,
    );
  });

  test('a subject whose rule lists no may_act accepts no actor', async () => {
    const subject = await mint({ claims: { sub: 'svc-billing' } });
    assertRefused(
      await postToken(as(pki.alice), stsUrl, {
        ...exchange(subject),
        actor_token: await mint({ claims: { sub: 'svc-orders' } }),
        actor_token_type: TOKEN_TYPE_JWT,
      }),
      400,
      'invalid_request',
      /^actor 'svc-orders' may not act for subject 'svc-billing'$/,
    );
  });

  test('actor token refusals say actor_token, not subject_token', async () => {
    const alice = as(pki.alice);
    const expired = await mint({ claims: { sub: 'svc-orders', iat: nowSeconds() - 400, exp: nowSeconds() - 100 } });
    assertRefused(
      await postToken(alice, stsUrl, { ...staticSubject, actor_token: expired, actor_token_type: TOKEN_TYPE_JWT }),
      400,
      'invalid_request',
      /^actor_token has expired$/,
    );
    assertRefused(
      await postToken(alice, grantStsUrl, { ...staticSubject, actor_token: expired, actor_token_type: TOKEN_TYPE_JWT }),
      400,
      'invalid_grant',
      /^actor_token has expired$/,
    );
    const untrusted = await mint({ iss: 'https://evil.example', claims: { sub: 'svc-orders' } });
    assertRefused(
      await postToken(alice, stsUrl, { ...staticSubject, actor_token: untrusted, actor_token_type: TOKEN_TYPE_JWT }),
      400,
      'invalid_request',
      /^actor_token issuer 'https:\/\/evil\.example' is not trusted$/,
    );
    assertRefused(
      await postToken(alice, stsUrl, { ...staticSubject, actor_token: ROBOT_SECRET, actor_token_type: TOKEN_TYPE_JWT }),
      400,
      'invalid_request',
      /^actor_token_type urn:ietf:params:oauth:token-type:jwt is not accepted for this actor token$/,
    );
    assertRefused(
      await postToken(alice, stsUrl, { ...staticSubject, actor_token_type: TOKEN_TYPE_JWT }),
      400,
      'invalid_request',
      /missing required parameter actor_token$/,
    );
  });
});

describe('jwks_uri that cannot be used', () => {
  async function jwksServer(status: number, body: string): Promise<string> {
    const server = createServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return `https://127.0.0.1:${(server.address() as { port: number }).port}/jwks`;
  }

  async function stsTrusting(jwksUri: string, ca: string | undefined): Promise<string> {
    const issuer = {
      issuer: IDP,
      jwks_uri: jwksUri,
      ...(ca === undefined ? {} : { jwks_ca: ca }),
      audiences: [STS_AUDIENCE],
      subjects: [{ subject: '*', audiences: [AUDIENCE] }],
    };
    const policy = parsePolicy({
      clients: [{ client_id: 'alice', certificate: { subject_dn: 'CN=alice, O=certbound dev' } }],
      trusted_issuers: [issuer],
    });
    return (await startSts(suite, pki, { signingKey: key, policy })).url;
  }

  test('control: the same server with the right jwks_ca is used', async () => {
    const response = await postToken(
      as(pki.alice),
      await stsTrusting(await jwksServer(200, JSON.stringify({ keys: [idpPublicJwk] })), pki.ca.certPem),
      exchange(await mint()),
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
  });

  test('a server the jwks_ca does not vouch for, or one that answers 500, gives 503 and no token', async () => {
    // The IdP's real keys: were the CA check skipped, the token would be accepted.
    const good = JSON.stringify({ keys: [idpPublicJwk] });
    const servingUri = await jwksServer(200, good);
    const failingUri = await jwksServer(500, '{}');
    for (const [uri, ca] of [
      [servingUri, undefined],
      [servingUri, pki.otherCa.certPem],
      [failingUri, pki.ca.certPem],
    ] as const) {
      const url = await stsTrusting(uri, ca);
      const response = await postToken(as(pki.alice), url, exchange(await mint()));
      assert.equal(response.status, 503, JSON.stringify(response.body));
      assert.equal(response.body.access_token, undefined);
      assert.match(String(response.body.error_description), /^the keys of https:\/\/idp\.example\.com are unavailable$/);
    }
  });
});
