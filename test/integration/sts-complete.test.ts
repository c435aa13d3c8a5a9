// The complete STS over real mTLS: client_credentials (tls_client_auth, self-signed, SPIFFE),
// issuance policy, JWT subject tokens from trusted issuers (one minted with the openssl CLI),
// delegation, and introspection.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { Agent, request } from 'undici';
import { buildAccessTokenClaims } from '../../src/core/claims.js';
import { hashSubjectToken } from '../../src/core/policy/authorize.js';
import { parsePolicy } from '../../src/config/policy.js';
import { GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT } from '../../src/core/rfc.js';
import { createSigningKey, type SigningKey } from '../../src/core/signing/signer.js';
import { signAccessToken } from '../../src/core/signing/jws.js';
import { createCertificateAuthority, issueCertificate, type IssuedCertificate } from '../../src/pki/generate.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, ALICE_SECRET, AUDIENCE, ISSUER, postToken, startSts, type JsonResponse } from '../helpers/servers.js';

const OTHER = 'https://other.domain.com';
const IDP = 'https://idp.example.com';
const OPENSSL_IDP = 'https://openssl.example.com';
const STS_AUDIENCE = 'https://sts.domain.com';
const DAY = 86_400_000;

let pki: TestPki;
let key: SigningKey;
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let idpKey: PrivateKey;
let strangerKey: PrivateKey;
let edKey: PrivateKey;
let opensslKeyPath: string;
let opensslJwk: JWK;
let tmp: string;
const certs: Record<string, IssuedCertificate> = {};
let stsUrl: string;
let grantStsUrl: string;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

function policy(idpJwk: JWK) {
  return parsePolicy({
    clients: [
      { client_id: 'alice', certificate: { subject_dn: 'CN=alice, O=certbound dev' } },
      { client_id: 'bob', certificate: { subject_dn: 'CN=bob, O=certbound dev' } },
      {
        client_id: 'batch',
        certificate: { san_dns: 'batch.internal.example' },
        grant_types: ['client_credentials'],
        audiences: [AUDIENCE],
        scopes: ['read'],
        max_token_lifetime: 60,
        requested_token_types: [TOKEN_TYPE_ACCESS_TOKEN],
      },
      {
        client_id: 'wide',
        certificate: { san_dns: 'wide.internal.example' },
        grant_types: ['client_credentials'],
        audiences: [AUDIENCE, OTHER],
        scopes: ['read'],
        narrow_scopes: true,
      },
      { client_id: 'exchange-only', certificate: { san_dns: 'exchange.internal.example' } },
      {
        client_id: 'selfie',
        auth_method: 'self_signed_tls_client_auth',
        certificates: [certs.selfie?.thumbprint],
        grant_types: ['client_credentials'],
        audiences: [AUDIENCE],
      },
      {
        client_id: 'selfie-jwks',
        auth_method: 'self_signed_tls_client_auth',
        jwks: { keys: [{ kty: 'EC', x5c: [certs.selfieJwks?.der.toString('base64')] }] },
        grant_types: ['client_credentials'],
        audiences: [AUDIENCE],
      },
      // Registered self-signed, carrying alice's subject DN: it may exchange, but never with alice's pins.
      { client_id: 'alice-lookalike', auth_method: 'self_signed_tls_client_auth', certificates: [certs.lookalike?.thumbprint] },
      {
        client_id: 'old-selfie',
        auth_method: 'self_signed_tls_client_auth',
        certificates: [certs.oldSelfie?.thumbprint],
        grant_types: ['client_credentials'],
        audiences: [AUDIENCE],
      },
      {
        client_id: 'billing',
        certificate: { spiffe_id: 'spiffe://domain.com/ns/*/sa/billing' },
        client_id_from: 'spiffe_id',
        subject_from: 'spiffe_id',
        grant_types: ['client_credentials'],
        audiences: [AUDIENCE],
      },
      {
        client_id: 'resource-server',
        certificate: { subject_dn: 'CN=resource, O=certbound dev' },
        grant_types: [],
        introspection: true,
        audiences: [AUDIENCE],
      },
    ],
    subject_tokens: [
      {
        sha256: hashSubjectToken(ALICE_SECRET),
        subject: 'alice',
        client_certificate: { subject_dn: 'CN=alice, O=certbound dev' },
        audiences: [AUDIENCE, OTHER],
        scopes: ['read'],
        may_act: ['svc-*'],
      },
    ],
    trusted_issuers: [
      {
        issuer: IDP,
        jwks: { keys: [idpJwk] },
        audiences: [STS_AUDIENCE],
        algorithms: ['ES256', 'RS256'],
        max_age: 600,
        token_types: ['jwt', 'id_token'],
        subject_claim: 'email',
        copy_claims: ['groups', 'active'],
        subjects: [
          { subject: 'pinned@corp.example', client_certificate: { subject_dn: 'CN=bob, O=certbound dev' }, audiences: [AUDIENCE] },
          { subject: '*@example.com', audiences: [AUDIENCE], scopes: ['read'], may_act: ['svc-*'] },
        ],
      },
      {
        issuer: OPENSSL_IDP,
        jwks: { keys: [{ ...opensslJwk, kid: 'ossl-1', alg: 'RS256' }] },
        audiences: [STS_AUDIENCE],
        algorithms: ['RS256'],
        subjects: [{ subject: '*', audiences: [AUDIENCE] }],
      },
    ],
  });
}

before(async () => {
  pki = await createTestPki();
  key = await createSigningKey({ privateKey: pki.jwtKeyPem });
  const now = Date.now();
  const [batch, wide, wrongSan, exchangeOnly, billing, otherDomain, resource, selfie, selfieJwks, impostor, oldSelfie, unregisteredSelfie] =
    await Promise.all([
      issueCertificate(pki.ca, { commonName: 'batch', usage: 'client', dnsNames: ['batch.internal.example'] }),
      issueCertificate(pki.ca, { commonName: 'wide', usage: 'client', dnsNames: ['wide.internal.example'] }),
      issueCertificate(pki.ca, { commonName: 'batch', usage: 'client', dnsNames: ['batch.elsewhere.example'] }),
      issueCertificate(pki.ca, { commonName: 'exchange', usage: 'client', dnsNames: ['exchange.internal.example'] }),
      issueCertificate(pki.ca, { commonName: 'billing', usage: 'client', uris: ['spiffe://domain.com/ns/prod/sa/billing'] }),
      issueCertificate(pki.ca, { commonName: 'billing', usage: 'client', uris: ['spiffe://other.com/ns/prod/sa/billing'] }),
      issueCertificate(pki.ca, { commonName: 'resource', usage: 'client' }),
      createCertificateAuthority({ commonName: 'selfie' }),
      createCertificateAuthority({ commonName: 'selfie-jwks' }),
      // Self-signed, with exactly the subject DN of the CA-issued alice registration.
      createCertificateAuthority({ commonName: 'alice' }),
      createCertificateAuthority({ commonName: 'old-selfie', notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) }),
      createCertificateAuthority({ commonName: 'nobody' }),
    ]);
  certs.lookalike = await createCertificateAuthority({ commonName: 'alice' });
  Object.assign(certs, {
    batch,
    wide,
    wrongSan,
    exchangeOnly,
    billing,
    otherDomain,
    resource,
    selfie,
    selfieJwks,
    impostor,
    oldSelfie,
    unregisteredSelfie,
  });

  const idp = await generateKeyPair('ES256', { extractable: true });
  idpKey = idp.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  edKey = (await generateKeyPair('EdDSA')).privateKey;
  tmp = await mkdtemp(join(tmpdir(), 'certbound-openssl-'));
  opensslKeyPath = join(tmp, 'idp.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', opensslKeyPath], {
    stdio: 'ignore',
    timeout: 20_000,
  });
  opensslJwk = createPublicKey(await readFile(opensslKeyPath, 'utf8')).export({ format: 'jwk' }) as JWK;

  const idpJwk = { ...(await exportJWK(idp.publicKey)), kid: 'idp-1', alg: 'ES256' };
  const options = { signingKey: key, policy: policy(idpJwk) };
  stsUrl = (await startSts(suite, pki, options)).url;
  grantStsUrl = (await startSts(suite, pki, { ...options, subjectTokenError: 'invalid_grant' })).url;
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await rm(tmp, { recursive: true, force: true });
});

const as = (cert: IssuedCertificate | undefined): Agent => agentFor(suite, pki, cert);
const claimsOf = (response: JsonResponse): JWTPayload => decodeJwt(response.body.access_token as string);

function assertRefused(response: JsonResponse, status: number, error: string, description: RegExp): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body.error, error, JSON.stringify(response.body));
  assert.match(String(response.body.error_description), description);
}

describe('client_credentials bound to the certificate (RFC 8705 §2)', () => {
  test('tls_client_auth by SAN DNS: a token bound to the caller, audience defaulted, lifetime capped', async () => {
    const response = await postToken(as(certs.batch), stsUrl, { grant_type: 'client_credentials', scope: 'read' });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.expires_in, 60);
    const claims = claimsOf(response);
    assert.deepEqual(claims.cnf, { 'x5t#S256': certs.batch?.thumbprint });
    assert.equal(claims.sub, 'batch');
    assert.equal(claims.client_id, 'batch');
    assert.equal(claims.aud, AUDIENCE);
    assert.equal(claims.scope, 'read');
  });

  test('policy refusals: invalid_target, invalid_scope, requested token type, subject_token in the request', async () => {
    const batch = as(certs.batch);
    assertRefused(
      await postToken(batch, stsUrl, { grant_type: 'client_credentials', audience: OTHER }),
      400,
      'invalid_target',
      /not allowed to request a token for https:\/\/other\.domain\.com/,
    );
    assertRefused(
      await postToken(batch, stsUrl, { grant_type: 'client_credentials', scope: 'read write' }),
      400,
      'invalid_scope',
      /scope not allowed: write/,
    );
    assertRefused(
      await postToken(batch, stsUrl, { grant_type: 'client_credentials', requested_token_type: TOKEN_TYPE_JWT }),
      400,
      'invalid_request',
      /requested_token_type must be one of/,
    );
    assertRefused(
      await postToken(batch, stsUrl, { grant_type: 'client_credentials', subject_token: 'x' }),
      400,
      'invalid_request',
      /subject_token does not belong in a client_credentials request/,
    );
  });

  test('narrow_scopes drops what is not allowed and says what was granted; two audiences need naming', async () => {
    const wide = as(certs.wide);
    assertRefused(
      await postToken(wide, stsUrl, { grant_type: 'client_credentials' }),
      400,
      'invalid_request',
      /audience or resource is required/,
    );
    const response = await postToken(wide, stsUrl, { grant_type: 'client_credentials', audience: OTHER, scope: 'read admin' });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.scope, 'read');
    assert.equal(claimsOf(response).scope, 'read');
    // Narrowing to nothing would look like a full grant: refused instead.
    assertRefused(
      await postToken(wide, stsUrl, { grant_type: 'client_credentials', audience: OTHER, scope: 'admin' }),
      400,
      'invalid_scope',
      /scope not allowed: admin/,
    );
  });

  test('a PKI certificate whose SAN does not match is invalid_client; a client without the grant is unauthorized_client', async () => {
    assertRefused(
      await postToken(as(certs.wrongSan), stsUrl, { grant_type: 'client_credentials' }),
      401,
      'invalid_client',
      /not registered/,
    );
    assertRefused(
      await postToken(as(certs.exchangeOnly), stsUrl, { grant_type: 'client_credentials', audience: AUDIENCE }),
      400,
      'unauthorized_client',
      /may not use grant_type client_credentials/,
    );
  });

  test('self_signed_tls_client_auth: registered by thumbprint or by JWKS x5c, the token is bound to that certificate', async () => {
    for (const cert of [certs.selfie, certs.selfieJwks]) {
      const response = await postToken(as(cert), stsUrl, { grant_type: 'client_credentials' });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.deepEqual(claimsOf(response).cnf, { 'x5t#S256': cert?.thumbprint });
    }
  });

  test('self-signed certificates that are unregistered, expired, or merely share a registered subject DN are invalid_client', async () => {
    assertRefused(
      await postToken(as(certs.unregisteredSelfie), stsUrl, { grant_type: 'client_credentials' }),
      401,
      'invalid_client',
      /not issued by a trusted CA/,
    );
    assertRefused(
      await postToken(as(certs.oldSelfie), stsUrl, { grant_type: 'client_credentials' }),
      401,
      'invalid_client',
      /expired or not yet valid/,
    );
    // "CN=alice, O=certbound dev", self-signed: it must not become the CA-verified client alice.
    assertRefused(
      await postToken(as(certs.impostor), stsUrl, {
        grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
        subject_token: ALICE_SECRET,
        subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
        audience: AUDIENCE,
      }),
      401,
      'invalid_client',
      /not issued by a trusted CA/,
    );
  });

  test("a registered self-signed certificate with alice's DN cannot use subject tokens pinned to alice's DN", async () => {
    const response = await postToken(as(certs.lookalike), stsUrl, {
      grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
      subject_token: ALICE_SECRET,
      subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
      audience: AUDIENCE,
    });
    assertRefused(response, 400, 'invalid_request', /subject_token was not issued to this client certificate/);
  });

  test('SPIFFE: the ID pattern matches the workload, whose SPIFFE ID becomes client_id and sub; another trust domain does not', async () => {
    const response = await postToken(as(certs.billing), stsUrl, { grant_type: 'client_credentials' });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const claims = claimsOf(response);
    assert.equal(claims.sub, 'spiffe://domain.com/ns/prod/sa/billing');
    assert.equal(claims.client_id, 'spiffe://domain.com/ns/prod/sa/billing');
    assertRefused(
      await postToken(as(certs.otherDomain), stsUrl, { grant_type: 'client_credentials' }),
      401,
      'invalid_client',
      /not registered/,
    );
  });
});

/** A subject token from the trusted IdP; `change` overrides claims (undefined deletes). */
async function idpToken(change: Record<string, unknown> = {}, signer: PrivateKey = idpKey, alg = 'ES256'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: IDP,
    sub: 'user-1',
    email: 'carol@example.com',
    groups: ['staff'],
    aud: STS_AUDIENCE,
    iat: now,
    exp: now + 300,
    ...change,
  };
  for (const [name, value] of Object.entries(change)) if (value === undefined) delete claims[name];
  return new SignJWT(claims).setProtectedHeader({ alg, kid: 'idp-1', typ: 'JWT' }).sign(signer);
}

const exchange = (subjectToken: string, extra: Record<string, string> = {}) => ({
  grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
  subject_token: subjectToken,
  subject_token_type: TOKEN_TYPE_JWT,
  audience: AUDIENCE,
  ...extra,
});

describe('JWT subject tokens from trusted issuers', () => {
  test('accepted: subject from the email claim, groups copied, bound to the presenting certificate; id_token type too', async () => {
    const response = await postToken(as(pki.alice), stsUrl, exchange(await idpToken(), { scope: 'read' }));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const claims = claimsOf(response);
    assert.equal(claims.sub, 'carol@example.com');
    assert.deepEqual(claims.groups, ['staff']);
    assert.equal(claims.iss, ISSUER);
    assert.deepEqual(claims.cnf, { 'x5t#S256': pki.alice.thumbprint });
    const idToken = await postToken(as(pki.alice), stsUrl, exchange(await idpToken(), { subject_token_type: TOKEN_TYPE_ID_TOKEN }));
    assert.equal(idToken.status, 200, JSON.stringify(idToken.body));
  });

  test('a JWT minted with the openssl CLI (not jose) is accepted', async () => {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'ossl-1' })}.${b64({ iss: OPENSSL_IDP, sub: 'service-x', aud: STS_AUDIENCE, iat: now, exp: now + 300 })}`;
    const signature = execFileSync('openssl', ['dgst', '-sha256', '-sign', opensslKeyPath, '-binary'], { input, timeout: 10_000 });
    const response = await postToken(as(pki.alice), stsUrl, exchange(`${input}.${signature.toString('base64url')}`));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(claimsOf(response).sub, 'service-x');
  });

  const now = () => Math.floor(Date.now() / 1000);
  const refusals: Array<{
    name: string;
    token: () => Promise<string>;
    description: RegExp;
    client?: () => IssuedCertificate;
    type?: string;
    code?: 'subject' | 'other';
  }> = [
    { name: 'expired', token: () => idpToken({ iat: now() - 400, exp: now() - 100 }), description: /subject_token has expired/ },
    { name: 'not yet valid (nbf)', token: () => idpToken({ nbf: now() + 3600 }), description: /subject_token is not yet valid/ },
    { name: 'older than max_age', token: () => idpToken({ iat: now() - 1200, exp: now() + 600 }), description: /older than the 600 s/ },
    {
      name: 'another audience',
      token: () => idpToken({ aud: 'https://elsewhere.example' }),
      description: /subject_token audience is not accepted/,
    },
    {
      name: 'an untrusted issuer',
      token: () => idpToken({ iss: 'https://evil.example' }),
      description: /subject_token issuer 'https:\/\/evil\.example' is not trusted/,
    },
    {
      name: 'a bad signature (another key, same kid)',
      token: () => idpToken({}, strangerKey),
      description: /subject_token signature is invalid/,
    },
    {
      name: 'an algorithm the issuer may not use',
      token: () => idpToken({}, edKey, 'EdDSA'),
      description: /signing algorithm is not allowed/,
    },
    {
      name: 'a subject no rule allows',
      token: () => idpToken({ email: 'mallory@evil.org' }),
      description: /subject 'mallory@evil\.org' from https:\/\/idp\.example\.com is not allowed by policy/,
    },
    {
      name: 'a rule pinned to another certificate',
      token: () => idpToken({ email: 'pinned@corp.example' }),
      description: /subject_token was not issued to this client certificate/,
    },
    {
      name: 'a token type the issuer is not trusted for',
      token: () => idpToken(),
      type: TOKEN_TYPE_ACCESS_TOKEN,
      description: /not accepted for this issuer/,
      code: 'other',
    },
  ];
  for (const mode of ['invalid_request', 'invalid_grant'] as const) {
    for (const refusal of refusals) {
      // A refused token type is a request problem in both modes; subject-token refusals follow the mode.
      const error = refusal.code === 'other' ? 'invalid_request' : mode;
      test(`${mode} mode: ${refusal.name} is ${error}`, async () => {
        const url = mode === 'invalid_request' ? stsUrl : grantStsUrl;
        const response = await postToken(
          as(pki.alice),
          url,
          exchange(await refusal.token(), refusal.type === undefined ? {} : { subject_token_type: refusal.type }),
        );
        assertRefused(response, 400, error, refusal.description);
      });
    }
  }
});

describe('delegation (RFC 8693 §1.1, §4.1, §4.4)', () => {
  const actor = (email: string) => idpToken({ email });

  test('an allowed actor: the issued token carries act with the actor and its issuer', async () => {
    const response = await postToken(as(pki.alice), stsUrl, {
      ...exchange(ALICE_SECRET, { subject_token_type: TOKEN_TYPE_ACCESS_TOKEN }),
      actor_token: await actor('svc-orders@example.com'),
      actor_token_type: TOKEN_TYPE_JWT,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const claims = claimsOf(response);
    assert.equal(claims.sub, 'alice');
    assert.deepEqual(claims.act, { sub: 'svc-orders@example.com', iss: IDP });
  });

  test('a subject token that was itself delegated: its act chain nests under the new actor', async () => {
    const subject = await idpToken({ act: { sub: 'first-hop' } });
    const response = await postToken(as(pki.alice), stsUrl, {
      ...exchange(subject),
      actor_token: await actor('svc-orders@example.com'),
      actor_token_type: TOKEN_TYPE_JWT,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(claimsOf(response).act, { sub: 'svc-orders@example.com', iss: IDP, act: { sub: 'first-hop' } });
  });

  test('without a new actor, a delegated subject token keeps its act chain', async () => {
    const response = await postToken(as(pki.alice), stsUrl, exchange(await idpToken({ act: { sub: 'robot' } })));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(claimsOf(response).act, { sub: 'robot' });
  });

  test('refusals: an actor the policy does not allow, a may_act claim naming someone else, an actor_token without its type', async () => {
    const alice = as(pki.alice);
    const staticSubject = exchange(ALICE_SECRET, { subject_token_type: TOKEN_TYPE_ACCESS_TOKEN });
    assertRefused(
      await postToken(alice, stsUrl, {
        ...staticSubject,
        actor_token: await actor('intruder@example.com'),
        actor_token_type: TOKEN_TYPE_JWT,
      }),
      400,
      'invalid_request',
      /actor 'intruder@example\.com' may not act for subject 'alice'/,
    );
    const narrowed = await idpToken({ may_act: { sub: 'svc-billing@example.com' } });
    assertRefused(
      await postToken(alice, stsUrl, {
        ...exchange(narrowed),
        actor_token: await actor('svc-orders@example.com'),
        actor_token_type: TOKEN_TYPE_JWT,
      }),
      400,
      'invalid_request',
      /may_act claim does not name this actor/,
    );
    assertRefused(
      await postToken(alice, stsUrl, { ...staticSubject, actor_token: await actor('svc-orders@example.com') }),
      400,
      'invalid_request',
      /missing required parameter actor_token_type/,
    );
    // In invalid_grant mode the actor refusal follows the subject-token setting.
    assertRefused(
      await postToken(alice, grantStsUrl, {
        ...staticSubject,
        actor_token: await actor('intruder@example.com'),
        actor_token_type: TOKEN_TYPE_JWT,
      }),
      400,
      'invalid_grant',
      /may not act/,
    );
  });
});

describe('introspection (RFC 7662, RFC 8705 §3.2)', () => {
  async function introspect(cert: IssuedCertificate | undefined, body: Record<string, string>): Promise<JsonResponse> {
    const response = await request(`${stsUrl}/introspect`, {
      method: 'POST',
      dispatcher: as(cert),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body).toString(),
    });
    return { status: response.statusCode, headers: response.headers, body: (await response.body.json()) as Record<string, unknown> };
  }
  const crafted = async (signer: SigningKey, overrides: Partial<{ issuedAt: number; audience: string[] }> = {}) =>
    signAccessToken(
      buildAccessTokenClaims({
        issuer: ISSUER,
        subject: 'alice',
        audience: overrides.audience ?? [AUDIENCE],
        clientId: 'alice',
        thumbprint: pki.alice.thumbprint,
        lifetimeSeconds: 300,
        issuedAt: overrides.issuedAt ?? Math.floor(Date.now() / 1000),
      }),
      signer,
    );

  test('an active token: active, its claims and cnf', async () => {
    const token = (
      await postToken(as(pki.alice), stsUrl, exchange(ALICE_SECRET, { subject_token_type: TOKEN_TYPE_ACCESS_TOKEN, scope: 'read' }))
    ).body.access_token as string;
    const response = await introspect(certs.resource, { token, token_type_hint: 'access_token' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(response.body.active, true);
    assert.equal(response.body.sub, 'alice');
    assert.equal(response.body.scope, 'read');
    assert.equal(response.body.token_type, 'Bearer');
    assert.deepEqual(response.body.cnf, { 'x5t#S256': pki.alice.thumbprint });
  });

  test('a claim named active, copied from an IdP token, cannot make an active token look inactive', async () => {
    const issued = await postToken(as(pki.alice), stsUrl, exchange(await idpToken({ active: false })));
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    assert.equal(claimsOf(issued).active, false);
    const response = await introspect(certs.resource, { token: issued.body.access_token as string });
    assert.equal(response.body.active, true);
    assert.equal(response.body.token_type, 'Bearer');
  });

  test('expired, foreign-key, malformed and other-audience tokens are just {active: false}', async () => {
    const foreign = await createSigningKey({ privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey });
    for (const token of [
      await crafted(key, { issuedAt: Math.floor(Date.now() / 1000) - 3600 }),
      await crafted(foreign),
      'not.a.jwt',
      await crafted(key, { audience: [OTHER] }),
    ]) {
      const response = await introspect(certs.resource, { token });
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, { active: false });
    }
  });

  test('callers: a client not allowed to introspect is invalid_client; no certificate is invalid_client; no token is invalid_request', async () => {
    const token = await crafted(key);
    assertRefused(await introspect(pki.alice, { token }), 401, 'invalid_client', /client alice may not introspect tokens/);
    assertRefused(await introspect(undefined, { token }), 401, 'invalid_client', /client certificate is required/);
    assertRefused(await introspect(certs.resource, {}), 400, 'invalid_request', /missing required parameter token/);
  });

  test('metadata advertises introspection, client_credentials and both client authentication methods', async () => {
    const response = await request(`${stsUrl}/.well-known/oauth-authorization-server`, { dispatcher: as(undefined) });
    const metadata = (await response.body.json()) as Record<string, unknown>;
    assert.equal(metadata.introspection_endpoint, `${ISSUER}/introspect`);
    assert.equal((metadata.mtls_endpoint_aliases as Record<string, string>).introspection_endpoint, `${ISSUER}/introspect`);
    assert.deepEqual(metadata.grant_types_supported, [GRANT_TYPE_TOKEN_EXCHANGE, 'client_credentials']);
    assert.deepEqual(metadata.token_endpoint_auth_methods_supported, ['self_signed_tls_client_auth', 'tls_client_auth']);
  });
});

describe('a trusted issuer whose keys are fetched from its https jwks_uri', () => {
  test('keys are fetched over TLS verified with jwks_ca, and a token signed with them is accepted', async () => {
    const { createServer } = await import('node:https');
    const idp = await generateKeyPair('ES256', { extractable: true });
    const jwks = { keys: [{ ...(await exportJWK(idp.publicKey)), kid: 'remote-1', alg: 'ES256' }] };
    let fetches = 0;
    const server = createServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as { port: number }).port;
    const remote = parsePolicy({
      clients: [{ client_id: 'alice', certificate: { subject_dn: 'CN=alice, O=certbound dev' } }],
      trusted_issuers: [
        {
          issuer: 'https://remote-idp.example',
          jwks_uri: `https://127.0.0.1:${port}/jwks`,
          jwks_ca: pki.ca.certPem,
          audiences: [STS_AUDIENCE],
          subjects: [{ subject: '*', audiences: [AUDIENCE] }],
        },
      ],
    });
    const url = (await startSts(suite, pki, { signingKey: key, policy: remote })).url;
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ iss: 'https://remote-idp.example', sub: 'workload-7', aud: STS_AUDIENCE, iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: 'ES256', kid: 'remote-1' })
      .sign(idp.privateKey);
    const response = await postToken(as(pki.alice), url, exchange(token));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(claimsOf(response).sub, 'workload-7');
    assert.equal(fetches, 1);
  });
});
