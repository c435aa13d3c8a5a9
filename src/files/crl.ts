import { verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, CertificateList } from '@peculiar/asn1-x509';
import { printName } from '../core/certificate/name.js';
import { FileProblem, readText } from './read.js';

/** How to check a signature with node:crypto: digest (none for EdDSA) and the key type it needs. */
interface SignatureScheme {
  digest: string | null;
  keyType: string;
}

/** CRL signature algorithms by OID (RFC 5758 §3.2, RFC 4055 §5, RFC 8410 §3). */
const SIGNATURE_SCHEMES: ReadonlyMap<string, SignatureScheme> = new Map([
  ['1.2.840.10045.4.3.2', { digest: 'sha256', keyType: 'ec' }], // ecdsa-with-SHA256
  ['1.2.840.10045.4.3.3', { digest: 'sha384', keyType: 'ec' }], // ecdsa-with-SHA384
  ['1.2.840.10045.4.3.4', { digest: 'sha512', keyType: 'ec' }], // ecdsa-with-SHA512
  ['1.2.840.113549.1.1.11', { digest: 'sha256', keyType: 'rsa' }], // sha256WithRSAEncryption
  ['1.2.840.113549.1.1.12', { digest: 'sha384', keyType: 'rsa' }], // sha384WithRSAEncryption
  ['1.2.840.113549.1.1.13', { digest: 'sha512', keyType: 'rsa' }], // sha512WithRSAEncryption
  ['1.3.101.112', { digest: null, keyType: 'ed25519' }], // id-Ed25519
  ['1.3.101.113', { digest: null, keyType: 'ed448' }], // id-Ed448
]);

/** Names of algorithms not supported, for the message. */
const UNSUPPORTED_NAMES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
  ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption'],
  ['1.2.840.113549.1.1.10', 'RSASSA-PSS'],
  ['1.2.840.10045.4.1', 'ecdsa-with-SHA1'],
]);

/** The DER of one PEM block, or undefined when its body is not base64. */
function pemBody(block: string): Buffer | undefined {
  const body = block.replace(/-----(BEGIN|END) X509 CRL-----/g, '');
  return /^[A-Za-z0-9+/=\s]*$/.test(body) ? Buffer.from(body, 'base64') : undefined;
}

function subjectOf(ca: X509Certificate): string | undefined {
  try {
    return printName(AsnConvert.parse(ca.raw, Certificate).tbsCertificate.subject);
  } catch {
    return undefined; // node:crypto read it, the ASN.1 schema does not: it cannot be the issuer
  }
}

function signedBy(crl: CertificateList, scheme: SignatureScheme, key: KeyObject): boolean {
  if (key.asymmetricKeyType !== scheme.keyType) return false;
  const tbs = new Uint8Array(crl.tbsCertListRaw ?? AsnConvert.serialize(crl.tbsCertList));
  try {
    return verify(scheme.digest, tbs, key, new Uint8Array(crl.signature));
  } catch {
    return false;
  }
}

/**
 * Read a CRL and check it before TLS relies on it: it must be signed by one of the CAs and be
 * current. OpenSSL would otherwise refuse every client of that CA, with an error naming neither
 * the file nor the reason. The ASN.1 is read by @peculiar/asn1-x509, signatures checked by
 * node:crypto.
 */
export async function readCrl(path: string, cas: readonly X509Certificate[], now = new Date()): Promise<string> {
  const pem = await readText(path, 'CRL');
  const blocks = pem.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? [];
  if (blocks.length === 0) throw new FileProblem(path, 'CRL: no PEM CRL (-----BEGIN X509 CRL-----) found');
  for (const block of blocks) {
    let crl: CertificateList;
    try {
      const der = pemBody(block);
      if (der === undefined) throw new TypeError('not base64');
      crl = AsnConvert.parse(der, CertificateList);
    } catch {
      throw new FileProblem(path, 'CRL: cannot be parsed');
    }
    const issuer = printName(crl.tbsCertList.issuer);
    const notSigned = new FileProblem(path, `CRL: not signed by a CA in the CA bundle (CRL issuer ${issuer})`);
    const issuers = cas.filter((ca) => subjectOf(ca) === issuer);
    if (issuers.length === 0) throw notSigned;
    const algorithm = crl.signatureAlgorithm.algorithm;
    const scheme = SIGNATURE_SCHEMES.get(algorithm);
    if (scheme === undefined) {
      const name = UNSUPPORTED_NAMES.get(algorithm);
      throw new FileProblem(path, `CRL: signature algorithm ${name === undefined ? algorithm : `${name} (${algorithm})`} is not supported`);
    }
    // RFC 5280 §5.1.1.2: the algorithm inside the signed part must be the same.
    if (!crl.signatureAlgorithm.isEqual(crl.tbsCertList.signature)) throw notSigned;
    if (!issuers.some((ca) => signedBy(crl, scheme, ca.publicKey))) throw notSigned;
    const nextUpdate = crl.tbsCertList.nextUpdate?.getTime();
    if (nextUpdate !== undefined && nextUpdate.getTime() < now.getTime()) {
      throw new FileProblem(path, `CRL: expired at ${nextUpdate.toISOString()} (nextUpdate); every client of its CA would be refused`);
    }
  }
  return pem;
}
