import {
  createCertificateAuthority,
  issueCertificate,
  generateSigningKeyPem,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../../src/pki/generate.js';

const DAY = 24 * 60 * 60 * 1000;

/** An in-memory PKI for one test file, built with the same code as `certbound pki init`. */
export interface TestPki {
  ca: CertificateAuthority;
  server: IssuedCertificate;
  alice: IssuedCertificate;
  bob: IssuedCertificate;
  /** A client certificate from `ca` that no policy registers. */
  carol: IssuedCertificate;
  /** Issued by `ca`, but expired yesterday. */
  expired: IssuedCertificate;
  /** A client certificate from a different CA. */
  stranger: IssuedCertificate;
  otherCa: CertificateAuthority;
  /** ES256 JWT signing key (PKCS#8 PEM). */
  jwtKeyPem: string;
}

export async function createTestPki(): Promise<TestPki> {
  const [ca, otherCa] = await Promise.all([
    createCertificateAuthority({ commonName: 'test CA' }),
    createCertificateAuthority({ commonName: 'other CA' }),
  ]);
  const now = Date.now();
  const [server, alice, bob, carol, expired, stranger, jwtKeyPem] = await Promise.all([
    issueCertificate(ca, {
      commonName: 'localhost',
      usage: 'server',
      dnsNames: ['localhost', 'sts.domain.com', 'server.domain.com'],
      ipAddresses: ['127.0.0.1'],
    }),
    issueCertificate(ca, {
      commonName: 'alice',
      usage: 'client',
      uris: ['spiffe://domain.com/client/alice'],
      emails: ['alice@domain.com'],
    }),
    issueCertificate(ca, { commonName: 'bob', usage: 'client' }),
    issueCertificate(ca, { commonName: 'carol', usage: 'client' }),
    issueCertificate(ca, { commonName: 'alice', usage: 'client', notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) }),
    issueCertificate(otherCa, { commonName: 'alice', usage: 'client' }),
    generateSigningKeyPem(),
  ]);
  return { ca, server, alice, bob, carol, expired, stranger, otherCa, jwtKeyPem };
}
