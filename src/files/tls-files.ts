import type { X509Certificate } from 'node:crypto';
import { readCrl } from './crl.js';
import { FileProblem, readCertificates, readPrivateKey } from './read.js';

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
  /** Revocation lists (PEM), when the server was given some. */
  crl?: string[];
}

/** Paths of a server's or client's TLS material. */
export interface TlsPaths {
  ca: string;
  cert: string;
  key: string;
  /** CRL files (PEM), each signed by a CA in `ca`. */
  crl?: readonly string[];
}

/**
 * Read a CA bundle, a certificate and its key, and check that the key belongs to the certificate,
 * so a mismatch is a clear start-up error rather than a handshake failure later.
 */
export async function loadTlsFiles(paths: TlsPaths): Promise<TlsFiles> {
  const [ca, cert, key] = await Promise.all([
    readCertificates(paths.ca, 'CA certificate'),
    readCertificates(paths.cert, 'certificate'),
    readPrivateKey(paths.key, 'private key'),
  ]);
  const leaf = cert.certificates[0] as X509Certificate;
  if (!leaf.checkPrivateKey(key.key)) {
    throw new FileProblem(paths.key, `private key does not match the certificate in ${paths.cert}`);
  }
  if (paths.crl === undefined || paths.crl.length === 0) return { ca: ca.pem, cert: cert.pem, key: key.pem };
  const crl = await Promise.all(paths.crl.map((path) => readCrl(path, ca.certificates)));
  return { ca: ca.pem, cert: cert.pem, key: key.pem, crl };
}
