import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { canonicalDistinguishedName } from '../../src/pki/distinguished-name.js';
import { certificateMatches, describeMatcher } from '../../src/core/certificate/matcher.js';
import { readCertificateFacts, type CertificateFacts } from '../../src/core/certificate/facts.js';
import { issueCertificate } from '../../src/pki/generate.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';

describe('readCertificateFacts', () => {
  let pki: TestPki;
  let alice: CertificateFacts;
  let server: CertificateFacts;
  let bob: CertificateFacts;

  before(async () => {
    pki = await createTestPki();
    alice = readCertificateFacts(pki.alice.der);
    server = readCertificateFacts(pki.server.der);
    bob = readCertificateFacts(pki.bob.der);
  });

  test('RFC 8705 §3.1 thumbprint is the base64url SHA-256 of the DER', () => {
    assert.equal(alice.thumbprint, createHash('sha256').update(pki.alice.der).digest('base64url'));
    assert.equal(alice.thumbprint, pki.alice.thumbprint);
    assert.equal(server.thumbprint, pki.server.thumbprint);
    assert.notEqual(alice.thumbprint, bob.thumbprint);
  });

  test('RFC 4514 subject DN as "CN=alice, O=certbound dev"', () => {
    assert.equal(alice.subjectDn, 'CN=alice, O=certbound dev');
    assert.equal(bob.subjectDn, 'CN=bob, O=certbound dev');
    assert.equal(server.subjectDn, 'CN=localhost, O=certbound dev');
  });

  test('RFC 5280 §4.2.1.6 SAN dNSName and iPAddress of the server certificate', () => {
    assert.deepEqual(server.san, {
      dns: ['localhost', 'sts.domain.com', 'server.domain.com'],
      ip: ['127.0.0.1'],
      uri: [],
      email: [],
    });
  });

  test('RFC 5280 §4.2.1.6 SAN uniformResourceIdentifier and rfc822Name of a client certificate', () => {
    assert.deepEqual(alice.san, {
      dns: [],
      ip: [],
      uri: ['spiffe://domain.com/client/alice'],
      email: ['alice@domain.com'],
    });
  });

  test('SANs agree with node:crypto X509Certificate.subjectAltName', () => {
    const nodeView = new NodeX509Certificate(pki.server.der).subjectAltName ?? '';
    for (const dns of server.san.dns) assert.ok(nodeView.includes(`DNS:${dns}`), `${dns} in ${nodeView}`);
    for (const ip of server.san.ip) assert.ok(nodeView.includes(`IP Address:${ip}`), `${ip} in ${nodeView}`);
    const aliceView = new NodeX509Certificate(pki.alice.der).subjectAltName ?? '';
    assert.ok(aliceView.includes('URI:spiffe://domain.com/client/alice'));
    assert.ok(aliceView.includes('email:alice@domain.com'));
  });

  test('a certificate without a SAN extension has empty SAN lists', () => {
    assert.deepEqual(bob.san, { dns: [], ip: [], uri: [], email: [] });
  });

  test('several SANs of one kind are all read, in order', async () => {
    const multi = await issueCertificate(pki.ca, {
      commonName: 'multi',
      usage: 'both',
      dnsNames: ['a.domain.com', 'b.domain.com'],
      ipAddresses: ['10.0.0.1', '::1'],
      uris: ['https://a.domain.com/', 'urn:example:b'],
      emails: ['a@domain.com', 'b@domain.com'],
    });
    const facts = readCertificateFacts(multi.der);
    assert.deepEqual(facts.san.dns, ['a.domain.com', 'b.domain.com']);
    assert.deepEqual(facts.san.uri, ['https://a.domain.com/', 'urn:example:b']);
    assert.deepEqual(facts.san.email, ['a@domain.com', 'b@domain.com']);
    assert.equal(facts.san.ip.length, 2);
    assert.equal(facts.san.ip[0], '10.0.0.1');
    assert.equal(facts.subjectDn, 'CN=multi, O=certbound dev');
  });

  test('bytes that are not a certificate are refused', () => {
    assert.throws(() => readCertificateFacts(Buffer.from('not a certificate')));
  });

  test('certificateMatches checks one field of the facts', () => {
    assert.equal(certificateMatches({ 'x5t#S256': alice.thumbprint }, alice), true);
    assert.equal(certificateMatches({ 'x5t#S256': bob.thumbprint }, alice), false);
    assert.equal(certificateMatches({ subject_dn: 'CN=alice, O=certbound dev' }, alice), true);
    assert.equal(certificateMatches({ subject_dn: 'CN=alice, O=certbound dev' }, bob), false);
    assert.equal(certificateMatches({ san_dns: 'STS.Domain.Com' }, server), true);
    assert.equal(certificateMatches({ san_uri: 'spiffe://domain.com/client/alice' }, alice), true);
    assert.equal(certificateMatches({ san_uri: 'SPIFFE://domain.com/client/alice' }, alice), false, 'URIs compare exactly');
    assert.equal(certificateMatches({ san_ip: '127.0.0.1' }, server), true);
    assert.equal(certificateMatches({ san_email: 'alice@domain.com' }, alice), true);
    assert.equal(certificateMatches({ san_email: 'bob@domain.com' }, alice), false);
  });

  test('describeMatcher names the field and value', () => {
    assert.equal(describeMatcher({ san_dns: 'a.domain.com' }), 'san_dns=a.domain.com');
    assert.equal(describeMatcher({ 'x5t#S256': alice.thumbprint }), `x5t#S256=${alice.thumbprint}`);
  });
});

describe('canonicalDistinguishedName', () => {
  test('RFC 4514 "CN=alice,O=certbound dev" equals "CN=alice, O=certbound dev"', () => {
    assert.equal(canonicalDistinguishedName('CN=alice,O=certbound dev'), canonicalDistinguishedName('CN=alice, O=certbound dev'));
    assert.equal(canonicalDistinguishedName('CN=alice,O=certbound dev'), 'CN=alice, O=certbound dev');
  });

  test('the canonical form equals what readCertificateFacts reports for the same name', async () => {
    const pki = await createTestPki();
    assert.equal(canonicalDistinguishedName('CN=alice,O=certbound dev'), readCertificateFacts(pki.alice.der).subjectDn);
  });

  test('different names stay different', () => {
    assert.notEqual(canonicalDistinguishedName('CN=alice, O=certbound dev'), canonicalDistinguishedName('CN=bob, O=certbound dev'));
    assert.notEqual(canonicalDistinguishedName('CN=alice, O=certbound dev'), canonicalDistinguishedName('O=certbound dev, CN=alice'));
  });

  test('garbage is a TypeError naming the text', () => {
    // The empty string is the RFC 4514 form of an empty DN, so it is not listed here.
    for (const garbage of ['not a dn', 'alice', '=', 'CN', 'foo=bar']) {
      assert.throws(
        () => canonicalDistinguishedName(garbage),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, /^not a distinguished name/);
          assert.ok(error.message.includes(JSON.stringify(garbage)));
          return true;
        },
        garbage,
      );
    }
  });
});
