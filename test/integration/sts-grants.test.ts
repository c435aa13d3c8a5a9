// Client authentication and client_credentials edges over real mTLS, beyond sts-complete.test.ts:
// subject_dn clients, resource targets, SVIDs with more than one URI SAN, a final ** pattern,
// self-signed certificates that are not yet valid or that imitate a pinned subject DN, and
// introspection against the injected clock.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import { Agent, request } from 'undici';
import { hashSubjectToken } from '../../src/core/policy/authorize.js';
import { parsePolicy } from '../../src/config/policy.js';
import { GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT } from '../../src/core/rfc.js';
import { createSigningKey, type SigningKey } from '../../src/core/signing/signer.js';
import { createCertificateAuthority, issueCertificate, type IssuedCertificate } from '../../src/pki/generate.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, ALICE_SECRET, AUDIENCE, postToken, startSts, type JsonResponse } from '../helpers/servers.js';

const OTHER = 'https://other.domain.com';
const RESOURCE = 'https://api.domain.com/orders';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let pki: TestPki;
let key: SigningKey;
const certs: Record<string, IssuedCertificate> = {};
let stsUrl: string;
/** The same STS (same key, same policy) two hours ahead. */
let laterStsUrl: string;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  pki = await createTestPki();
  key = await createSigningKey({ privateKey: pki.jwtKeyPem });
  const now = Date.now();
  const [ops, twoUris, deep, shallow, future, aliceLookalike, auditor, everywhere] = await Promise.all([
    issueCertificate(pki.ca, { commonName: 'ops', usage: 'client' }),
    // An X509-SVID has exactly one URI SAN (X509-SVID §2); this one has two, so it is no SVID.
    issueCertificate(pki.ca, {
      commonName: 'billing',
      usage: 'client',
      uris: ['spiffe://domain.com/ns/prod/sa/billing', 'https://billing.domain.com'],
    }),
    issueCertificate(pki.ca, { commonName: 'jobs', usage: 'client', uris: ['spiffe://domain.com/jobs/nightly/export'] }),
    issueCertificate(pki.ca, { commonName: 'jobs', usage: 'client', uris: ['spiffe://domain.com/jobs'] }),
    createCertificateAuthority({ commonName: 'future', notBefore: new Date(now + DAY), notAfter: new Date(now + 10 * DAY) }),
    // Self-signed with the subject DN "CN=alice, O=certbound dev", registered as a self-signed client.
    createCertificateAuthority({ commonName: 'alice' }),
    createCertificateAuthority({ commonName: 'auditor' }),
    issueCertificate(pki.ca, { commonName: 'everywhere', usage: 'client' }),
  ]);
  Object.assign(certs, { ops, twoUris, deep, shallow, future, aliceLookalike, auditor, everywhere });
  const policy = parsePolicy({
    clients: [
      { client_id: 'alice', certificate: { subject_dn: 'CN=alice, O=certbound dev' } },
      {
        client_id: 'ops',
        certificate: { subject_dn: 'CN=ops, O=certbound dev' },
        grant_types: ['client_credentials'],
        audiences: [AUDIENCE, RESOURCE],
        scopes: ['read'],
      },
      {
        client_id: 'billing',
        certificate: { spiffe_id: 'spiffe://domain.com/ns/*/sa/billing' },
        client_id_from: 'spiffe_id',
        grant_types: ['client_credentials'],
        audiences: [AUDIENCE],
      },
      {
        client_id: 'jobs',
        certificate: { spiffe_id: 'spiffe://domain.com/jobs/**' },
        client_id_from: 'spiffe_id',
        subject_from: 'spiffe_id',
        grant_types: ['client_credentials'],
        audiences: [AUDIENCE],
      },
      {
        client_id: 'future',
        auth_method: 'self_signed_tls_client_auth',
        certificates: [future.thumbprint],
        grant_types: ['client_credentials'],
        audiences: [AUDIENCE],
      },
      {
        client_id: 'partner',
        auth_method: 'self_signed_tls_client_auth',
        certificates: [aliceLookalike.thumbprint],
        grant_types: [GRANT_TYPE_TOKEN_EXCHANGE],
      },
      {
        client_id: 'auditor',
        auth_method: 'self_signed_tls_client_auth',
        certificates: [auditor.thumbprint],
        grant_types: [],
        introspection: true,
        audiences: [AUDIENCE],
      },
      // No audiences: this resource server may introspect tokens for any audience.
      { client_id: 'everywhere', certificate: { subject_dn: 'CN=everywhere, O=certbound dev' }, grant_types: [], introspection: true },
    ],
    subject_tokens: [
      {
        sha256: hashSubjectToken(ALICE_SECRET),
        subject: 'alice',
        client_certificate: { subject_dn: 'CN=alice, O=certbound dev' },
        audiences: [AUDIENCE, OTHER],
        scopes: ['read'],
      },
    ],
  });
  const options = { signingKey: key, policy };
  stsUrl = (await startSts(suite, pki, options)).url;
  laterStsUrl = (await startSts(suite, pki, { ...options, now: () => Date.now() + 2 * HOUR })).url;
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const as = (cert: IssuedCertificate | undefined): Agent => agentFor(suite, pki, cert);
const claimsOf = (response: JsonResponse): JWTPayload => decodeJwt(response.body.access_token as string);

function assertRefused(response: JsonResponse, status: number, error: string, description: RegExp): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body.error, error, JSON.stringify(response.body));
  assert.match(String(response.body.error_description), description);
}

async function introspect(url: string, cert: IssuedCertificate, token: string): Promise<JsonResponse> {
  const response = await request(`${url}/introspect`, {
    method: 'POST',
    dispatcher: as(cert),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  return { status: response.statusCode, headers: response.headers, body: (await response.body.json()) as Record<string, unknown> };
}

describe('client_credentials: targets and token types (RFC 6749 §4.4, RFC 8707, RFC 8693 §2.1)', () => {
  test('tls_client_auth by subject DN; a resource URI is the audience; requested jwt is issued as jwt, still at+jwt', async () => {
    const response = await postToken(as(certs.ops), stsUrl, {
      grant_type: 'client_credentials',
      resource: RESOURCE,
      scope: 'read',
      requested_token_type: TOKEN_TYPE_JWT,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.issued_token_type, TOKEN_TYPE_JWT);
    assert.equal(decodeProtectedHeader(response.body.access_token as string).typ, 'at+jwt');
    const claims = claimsOf(response);
    assert.equal(claims.sub, 'ops');
    assert.equal(claims.client_id, 'ops');
    assert.equal(claims.aud, RESOURCE);
    assert.deepEqual(claims.cnf, { 'x5t#S256': certs.ops?.thumbprint });
  });

  test('audience and resource together name every target; two registered audiences are not defaulted', async () => {
    const both = await postToken(as(certs.ops), stsUrl, { grant_type: 'client_credentials', audience: AUDIENCE, resource: RESOURCE });
    assert.equal(both.status, 200, JSON.stringify(both.body));
    assert.deepEqual(claimsOf(both).aud, [AUDIENCE, RESOURCE]);
    assertRefused(
      await postToken(as(certs.ops), stsUrl, { grant_type: 'client_credentials' }),
      400,
      'invalid_request',
      /^audience or resource is required$/,
    );
  });

  test('a resource with a fragment, or not absolute, is invalid_request; one outside the registration is invalid_target', async () => {
    const ops = as(certs.ops);
    assertRefused(
      await postToken(ops, stsUrl, { grant_type: 'client_credentials', resource: `${RESOURCE}#frag` }),
      400,
      'invalid_request',
      /resource must be an absolute URI without a fragment/,
    );
    assertRefused(
      await postToken(ops, stsUrl, { grant_type: 'client_credentials', resource: '/orders' }),
      400,
      'invalid_request',
      /resource must be an absolute URI without a fragment/,
    );
    assertRefused(
      await postToken(ops, stsUrl, { grant_type: 'client_credentials', resource: 'https://api.domain.com/admin' }),
      400,
      'invalid_target',
      /not allowed to request a token for https:\/\/api\.domain\.com\/admin$/,
    );
  });

  test('a refresh_token requested_token_type is not issued by this STS', async () => {
    assertRefused(
      await postToken(as(certs.ops), stsUrl, {
        grant_type: 'client_credentials',
        audience: AUDIENCE,
        requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
      }),
      400,
      'invalid_request',
      /requested_token_type must be one of/,
    );
  });
});

describe('SPIFFE client certificates (X509-SVID)', () => {
  test('a final ** matches a deeper workload, whose SPIFFE ID becomes client_id and sub', async () => {
    const response = await postToken(as(certs.deep), stsUrl, { grant_type: 'client_credentials' });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const claims = claimsOf(response);
    assert.equal(claims.client_id, 'spiffe://domain.com/jobs/nightly/export');
    assert.equal(claims.sub, 'spiffe://domain.com/jobs/nightly/export');
  });

  test('a final ** needs at least one segment after the fixed part', async () => {
    assertRefused(
      await postToken(as(certs.shallow), stsUrl, { grant_type: 'client_credentials' }),
      401,
      'invalid_client',
      /not registered/,
    );
  });

  test('client_id_from spiffe_id with the default subject_from: sub follows the SPIFFE client_id', async () => {
    const billing = await issueCertificate(pki.ca, {
      commonName: 'billing',
      usage: 'client',
      uris: ['spiffe://domain.com/ns/staging/sa/billing'],
    });
    const response = await postToken(as(billing), stsUrl, { grant_type: 'client_credentials' });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(claimsOf(response).client_id, 'spiffe://domain.com/ns/staging/sa/billing');
    assert.equal(claimsOf(response).sub, 'spiffe://domain.com/ns/staging/sa/billing');
  });

  test('a certificate with two URI SANs is no SVID, even when one of them matches the pattern', async () => {
    assertRefused(
      await postToken(as(certs.twoUris), stsUrl, { grant_type: 'client_credentials' }),
      401,
      'invalid_client',
      /not registered/,
    );
  });
});

describe('self_signed_tls_client_auth edges (RFC 8705 §2.2)', () => {
  test('a registered self-signed certificate that is not yet valid is invalid_client', async () => {
    assertRefused(
      await postToken(as(certs.future), stsUrl, { grant_type: 'client_credentials' }),
      401,
      'invalid_client',
      /expired or not yet valid/,
    );
  });

  // A subject token pinned by subject_dn was meant for a CA-verified certificate with that DN.
  // A self-signed client chose its own DN; only a thumbprint pin should be able to name it.
  test('a registered self-signed certificate whose DN imitates a subject token pin cannot use that subject token', async () => {
    const response = await postToken(as(certs.aliceLookalike), stsUrl, {
      grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
      subject_token: ALICE_SECRET,
      subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
      audience: AUDIENCE,
    });
    assertRefused(response, 400, 'invalid_request', /subject_token was not issued to this client certificate/);
  });
});

describe('introspection edges (RFC 7662 §2)', () => {
  async function aliceToken(audience: string): Promise<string> {
    const response = await postToken(as(pki.alice), stsUrl, {
      grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
      subject_token: ALICE_SECRET,
      subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
      audience,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.access_token as string;
  }

  test('a self-signed resource server may introspect; the same token is inactive on a clock two hours later', async () => {
    const token = await aliceToken(AUDIENCE);
    const now = await introspect(stsUrl, certs.auditor as IssuedCertificate, token);
    assert.equal(now.status, 200);
    assert.equal(now.body.active, true);
    assert.equal(now.body.client_id, 'alice');
    assert.deepEqual(now.body.cnf, { 'x5t#S256': pki.alice.thumbprint });
    const later = await introspect(laterStsUrl, certs.auditor as IssuedCertificate, token);
    assert.equal(later.status, 200);
    assert.deepEqual(later.body, { active: false });
  });

  test('a resource server registered without audiences sees tokens for every audience', async () => {
    const token = await aliceToken(OTHER);
    assert.deepEqual((await introspect(stsUrl, certs.auditor as IssuedCertificate, token)).body, { active: false });
    const everywhere = await introspect(stsUrl, certs.everywhere as IssuedCertificate, token);
    assert.equal(everywhere.body.active, true);
    assert.equal(everywhere.body.aud, OTHER);
  });

  test('GET /introspect is 405 with Allow: POST', async () => {
    const response = await request(`${stsUrl}/introspect`, { dispatcher: as(certs.auditor) });
    assert.equal(response.statusCode, 405);
    assert.equal(response.headers.allow, 'POST');
    await response.body.dump();
  });

  test('a client certificate from another CA cannot introspect', async () => {
    const response = await introspect(stsUrl, pki.stranger, await aliceToken(AUDIENCE));
    assert.equal(response.status, 401);
    assert.equal(response.body.error, 'invalid_client');
  });
});
