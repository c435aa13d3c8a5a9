import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { x509 } from '../pki/x509.js';

/** A start-up problem with a named file; the CLI prints its message as one line. */
export class FileProblem extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'FileProblem';
  }
}

export async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : `cannot read (${code ?? 'error'})`;
    throw new FileProblem(path, `${what}: ${why}`);
  }
}

/** Every certificate in a PEM file, parsed by node:crypto. */
export async function readCertificates(path: string, what: string): Promise<{ pem: string; certificates: X509Certificate[] }> {
  const pem = await readText(path, what);
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new FileProblem(path, `${what}: no PEM certificate found`);
  const certificates = blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new FileProblem(path, `${what}: certificate cannot be parsed`);
    }
  });
  return { pem, certificates };
}

export async function readPrivateKey(path: string, what: string): Promise<{ pem: string; key: KeyObject }> {
  const pem = await readText(path, what);
  try {
    return { pem, key: createPrivateKey(pem) };
  } catch {
    throw new FileProblem(path, `${what}: not a readable unencrypted private key (PEM)`);
  }
}

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

/**
 * Read a CRL and check it before TLS relies on it: it must be signed by one of the CAs and be
 * current. OpenSSL would otherwise refuse every client of that CA, with an error naming neither
 * the file nor the reason.
 */
export async function readCrl(path: string, cas: readonly X509Certificate[], now = new Date()): Promise<string> {
  const pem = await readText(path, 'CRL');
  const blocks = pem.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? [];
  if (blocks.length === 0) throw new FileProblem(path, 'CRL: no PEM CRL (-----BEGIN X509 CRL-----) found');
  for (const block of blocks) {
    let crl: InstanceType<typeof x509.X509Crl>;
    try {
      crl = new x509.X509Crl(block);
    } catch {
      throw new FileProblem(path, 'CRL: cannot be parsed');
    }
    const issuers = cas.map((ca) => new x509.X509Certificate(ca.raw)).filter((ca) => ca.subjectName.toString() === crl.issuerName.toString());
    let signed = false;
    for (const issuer of issuers) signed ||= await crl.verify({ publicKey: issuer });
    if (!signed) throw new FileProblem(path, `CRL: not signed by a CA in the CA bundle (CRL issuer ${crl.issuer})`);
    if (crl.nextUpdate !== undefined && crl.nextUpdate.getTime() < now.getTime()) {
      throw new FileProblem(path, `CRL: expired at ${crl.nextUpdate.toISOString()} (nextUpdate); every client of its CA would be refused`);
    }
  }
  return pem;
}
