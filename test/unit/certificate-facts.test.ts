// readCertificateFacts reads certificates with @peculiar/asn1-x509. Until it did, it read them
// with @peculiar/x509; that reader is kept here as the oracle: for certificates with every kind
// of SubjectAltName, well-formed or not, both return the same facts or both throw.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readCertificateFacts, type CertificateFacts } from '../../src/core/certificate/facts.js';
import { parseSpiffeId } from '../../src/core/spiffe.js';
import { computeThumbprint } from '../../src/core/thumbprint.js';
import { x509 } from '../../src/pki/x509.js';
import { describeSan, hugeSan, issueOddCertificate, SAN_EXAMPLES, sanExtension, type SanFixture } from '../helpers/odd-certificates.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';

/** readCertificateFacts as it was, on @peculiar/x509. */
function factsByPeculiarX509(der: Uint8Array): CertificateFacts {
  const certificate = new x509.X509Certificate(der);
  const san: CertificateFacts['san'] = { dns: [], uri: [], ip: [], email: [] };
  const extension = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  for (const name of extension?.names.items ?? []) {
    if (name.type === 'dns') san.dns.push(name.value);
    else if (name.type === 'url') san.uri.push(name.value);
    else if (name.type === 'ip') san.ip.push(name.value);
    else if (name.type === 'email') san.email.push(name.value);
  }
  const spiffeId = san.uri.length === 1 && parseSpiffeId(san.uri[0] as string) !== undefined ? san.uri[0] : undefined;
  return {
    thumbprint: computeThumbprint(der),
    subjectDn: certificate.subject,
    san,
    spiffeId,
    notBefore: certificate.notBefore.getTime(),
    notAfter: certificate.notAfter.getTime(),
  };
}

function outcome(read: (der: Uint8Array) => CertificateFacts, der: Uint8Array): { facts: CertificateFacts } | { threw: true } {
  try {
    return { facts: read(der) };
  } catch {
    return { threw: true };
  }
}

function assertSameFacts(der: Buffer, message: string): void {
  assert.deepEqual(
    outcome(readCertificateFacts, der),
    outcome(factsByPeculiarX509, der),
    `${message}; certificate (base64 DER) ${der.toString('base64')}`,
  );
}

describe('readCertificateFacts agrees with @peculiar/x509', () => {
  let pki: TestPki;
  before(async () => {
    pki = await createTestPki();
  });

  test('the test PKI', () => {
    for (const certificate of [pki.ca, pki.server, pki.alice, pki.bob, pki.expired, pki.stranger, pki.otherCa])
      assertSameFacts(certificate.der, certificate.subject);
  });

  test('every fixed SAN example, and 1500 dNSNames', async () => {
    for (const san of [...SAN_EXAMPLES, hugeSan(1500)]) {
      const certificate = await issueOddCertificate({ san, issuer: pki.ca });
      assertSameFacts(certificate.der, describeSan(san));
    }
  });

  test('random SubjectAltName extensions', async () => {
    await fc.assert(
      fc.asyncProperty(sanExtension, async (san: SanFixture) => {
        const certificate = await issueOddCertificate({ san, issuer: pki.ca });
        assertSameFacts(certificate.der, describeSan(san));
      }),
      { numRuns: 300 },
    );
  });

  test('a certificate in a larger buffer (a Buffer slice) reads as the certificate alone', () => {
    const padded = Buffer.concat([Buffer.from([1, 2, 3]), pki.alice.der, Buffer.from([4, 5])]);
    const slice = padded.subarray(3, 3 + pki.alice.der.length);
    assert.deepEqual(readCertificateFacts(slice), readCertificateFacts(pki.alice.der));
  });

  test('truncated or damaged certificates throw', () => {
    assert.throws(() => readCertificateFacts(pki.alice.der.subarray(0, pki.alice.der.length - 1)));
    assert.throws(() => readCertificateFacts(new Uint8Array(0)));
    assert.throws(() => readCertificateFacts(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])));
  });
});
