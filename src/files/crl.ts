import type { X509Certificate } from 'node:crypto';
import { x509 } from '../pki/x509.js';
import { FileProblem, readText } from './read.js';

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
