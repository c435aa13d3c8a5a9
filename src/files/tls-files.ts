import { X509Certificate, type KeyObject } from 'node:crypto';
import { isPkcs11Uri, type EngineKey, type TlsKey } from '../core/tls-key.js';
import { readCrl } from './crl.js';
import { FileProblem, readCertificates, readPrivateKey } from './read.js';

export interface TlsFiles {
  ca: string;
  cert: string;
  /** PEM, or a key that stays in a PKCS#11 token. */
  key: TlsKey;
  /** Revocation lists (PEM), when the server was given some. */
  crl?: string[];
}

/** Paths of a server's or client's TLS material. */
export interface TlsPaths {
  ca: string;
  cert: string;
  /** A key file, or a `pkcs11:` URI (opened by the KeyOpener). */
  key: string;
  /** CRL files (PEM), each signed by a CA in `ca`. */
  crl?: readonly string[];
  /** How to open `key` when it is a `pkcs11:` URI (absent: such a key is refused). */
  openKey?: KeyOpener;
  /** How to read `cert` when it is a `pkcs11:` URI of a certificate in a token: its PEM. */
  readCertificate?: (uri: string) => Promise<string>;
}

/** Opens a key held in a token, given its `pkcs11:` URI: the key for OpenSSL and its public half. */
export type KeyOpener = (uri: string) => Promise<{ key: EngineKey; publicKey: KeyObject }>;

/**
 * Read a CA bundle, a certificate and its key (a file, or a key in a token through `paths.openKey`),
 * and check that the key belongs to the certificate, so a mismatch is a clear start-up error
 * rather than a handshake failure later.
 */
export async function loadTlsFiles(paths: TlsPaths): Promise<TlsFiles> {
  const [ca, cert, key] = await Promise.all([
    readCertificates(paths.ca, 'CA certificate'),
    isPkcs11Uri(paths.cert) ? certificateInToken(paths) : readCertificates(paths.cert, 'certificate'),
    readKey(paths.key, paths.openKey),
  ]);
  const leaf = cert.certificates[0] as X509Certificate;
  const matches = 'publicKey' in key ? leaf.publicKey.equals(key.publicKey) : leaf.checkPrivateKey(key.check);
  if (!matches) {
    const what = isPkcs11Uri(paths.key) ? 'the key in the PKCS#11 token' : 'private key';
    throw new FileProblem(paths.key, `${what} does not match the certificate in ${paths.cert}`);
  }
  if (paths.crl === undefined || paths.crl.length === 0) return { ca: ca.pem, cert: cert.pem, key: key.key };
  const crl = await Promise.all(paths.crl.map((path) => readCrl(path, ca.certificates)));
  return { ca: ca.pem, cert: cert.pem, key: key.key, crl };
}

async function certificateInToken(paths: TlsPaths): Promise<{ pem: string; certificates: X509Certificate[] }> {
  if (paths.readCertificate === undefined) throw new FileProblem(paths.cert, 'a certificate in a PKCS#11 token is not accepted here');
  const pem = await paths.readCertificate(paths.cert);
  return { pem, certificates: [new X509Certificate(pem)] };
}

async function readKey(
  path: string,
  openKey: KeyOpener | undefined,
): Promise<{ key: string; check: KeyObject } | { key: EngineKey; publicKey: KeyObject }> {
  if (!isPkcs11Uri(path)) {
    const { pem, key } = await readPrivateKey(path, 'private key');
    return { key: pem, check: key };
  }
  if (openKey === undefined) throw new FileProblem(path, 'a key in a PKCS#11 token is not accepted here');
  return openKey(path);
}
