// RFC 8705 §2 client authentication, pure: the TLS verdict first, then client_id or the first
// matching registration. Certificates here are plain objects; test/cli covers real TLS.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { readCertificateFacts, type CertificateFacts } from '../../src/core/certificate/facts.js';
import { authenticateClient, requireTrustableCertificate, type PresentedCertificate } from '../../src/core/client-authentication.js';
import { parsePolicy } from '../../src/config/policy.js';
import { type Policy } from '../../src/core/policy/types.js';
import { issueCertificate } from '../../src/pki/generate.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';

const NOW = Date.UTC(2026, 11, 1);
const DAY = 24 * 3600 * 1000;

let pki: TestPki;
let policy: Policy;
let spiffeFacts: CertificateFacts;

before(async () => {
  pki = await createTestPki();
  const workload = await issueCertificate(pki.ca, {
    commonName: 'billing',
    usage: 'client',
    uris: ['spiffe://domain.com/ns/prod/sa/billing'],
  });
  spiffeFacts = readCertificateFacts(workload.der);
  policy = parsePolicy({
    clients: [
      { client_id: 'alice', certificate: { subject_dn: 'CN=alice, O=certbound dev' } },
      { client_id: 'alice-again', certificate: { 'x5t#S256': pki.alice.thumbprint } },
      { client_id: 'device', auth_method: 'self_signed_tls_client_auth', certificates: [pki.stranger.thumbprint] },
      { client_id: 'billing', certificate: { spiffe_id: 'spiffe://domain.com/ns/*/sa/billing' }, client_id_from: 'spiffe_id' },
    ],
  });
});

/** A presented certificate with the given verdict; facts() fails the test if it is not expected to be read. */
function presented(facts: CertificateFacts, authorized: boolean, overrides: Partial<PresentedCertificate> = {}): PresentedCertificate {
  return {
    thumbprint: facts.thumbprint,
    authorized,
    authorizationError: authorized ? undefined : 'DEPTH_ZERO_SELF_SIGNED_CERT',
    notBefore: NOW - DAY,
    notAfter: NOW + DAY,
    facts: () => facts,
    ...overrides,
  };
}
const factsOf = (der: Buffer): CertificateFacts => readCertificateFacts(der);
const input = (clientId?: string, requireClientId = false) => ({ policy, clientId, requireClientId, now: NOW });

describe('requireTrustableCertificate: the TLS verdict, before any name is read', () => {
  test('a CA-verified certificate passes without its names being read', () => {
    requireTrustableCertificate(presented(factsOf(pki.alice.der), true, { facts: () => assert.fail('names read') }), policy, NOW);
  });

  test('an unverified certificate that no self-signed registration names is refused', () => {
    assert.throws(
      () => requireTrustableCertificate(presented(factsOf(pki.bob.der), false, { facts: () => assert.fail('names read') }), policy, NOW),
      {
        code: 'CB_CLIENT_UNAUTHENTICATED',
        description: 'client certificate was not issued by a trusted CA or is not valid',
      },
    );
  });

  test('a registered self-signed certificate passes within its validity, and is refused outside it or with an unreadable date', () => {
    const device = factsOf(pki.stranger.der);
    requireTrustableCertificate(presented(device, false), policy, NOW);
    for (const dates of [{ notAfter: NOW - 1 }, { notBefore: NOW + 1 }, { notBefore: Number.NaN }, { notAfter: Number.NaN }]) {
      assert.throws(() => requireTrustableCertificate(presented(device, false, dates), policy, NOW), {
        code: 'CB_CLIENT_UNAUTHENTICATED',
        description: 'client certificate is expired or not yet valid',
      });
    }
  });
});

describe('authenticateClient: RFC 8705 §2 client_id', () => {
  test('without client_id, the first registration the certificate satisfies', () => {
    assert.equal(authenticateClient(presented(factsOf(pki.alice.der), true), input()).clientId, 'alice');
  });

  test('with client_id, that registration, even when an earlier one matches too', () => {
    assert.equal(authenticateClient(presented(factsOf(pki.alice.der), true), input('alice-again')).clientId, 'alice-again');
  });

  test("another client's id and an unknown id get the same refusal; the detail tells them apart", () => {
    for (const [clientId, detail] of [
      ['device', /^registered client device /],
      ['nobody', /^unknown client_id /],
    ] as const) {
      assert.throws(
        () => authenticateClient(presented(factsOf(pki.alice.der), true), input(clientId)),
        (error: { code: string; description: string; detail: string }) => {
          assert.equal(error.code, 'CB_CLIENT_ID_MISMATCH');
          assert.equal(error.description, 'client certificate does not authenticate the client_id given');
          assert.match(error.detail, detail);
          return true;
        },
      );
    }
  });

  test('a tls_client_auth registration never accepts a certificate no CA verified, even with its client_id', () => {
    const unverifiedAlice = presented(factsOf(pki.alice.der), false);
    assert.throws(() => authenticateClient(unverifiedAlice, input('alice-again')), { code: 'CB_CLIENT_ID_MISMATCH' });
  });

  test('a self-signed registration by client_id, by thumbprint only', () => {
    assert.equal(authenticateClient(presented(factsOf(pki.stranger.der), false), input('device')).clientId, 'device');
  });

  test('client_id_from spiffe_id: the registration is named by its own id or by the SPIFFE ID it issues', () => {
    const workload = presented(spiffeFacts, true);
    assert.equal(authenticateClient(workload, input('billing')).clientId, 'billing');
    assert.equal(authenticateClient(workload, input('spiffe://domain.com/ns/prod/sa/billing')).clientId, 'billing');
    assert.throws(() => authenticateClient(workload, input('spiffe://domain.com/ns/prod/sa/other')), { code: 'CB_CLIENT_ID_MISMATCH' });
  });

  test('requireClientId: without client_id CB_CLIENT_ID_REQUIRED; no registration: CB_CLIENT_NOT_REGISTERED', () => {
    assert.throws(() => authenticateClient(presented(factsOf(pki.alice.der), true), input(undefined, true)), {
      code: 'CB_CLIENT_ID_REQUIRED',
      description: 'client_id is required (RFC 8705 section 2)',
    });
    assert.throws(() => authenticateClient(presented(factsOf(pki.carol.der), true), input()), { code: 'CB_CLIENT_NOT_REGISTERED' });
  });
});
