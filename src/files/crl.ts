import { constants, verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { id_mgf1, id_RSASSA_PSS, RsaSaPssParams } from '@peculiar/asn1-rsa';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, CertificateList } from '@peculiar/asn1-x509';
import { printName } from '../core/certificate/name.js';
import { FileProblem, readText } from './read.js';

/** How to check a signature with node:crypto: digest (none for EdDSA), key types, PSS salt. */
interface SignatureScheme {
  digest: string | null;
  keyTypes: readonly string[];
  pssSaltLength?: number;
}

/** CRL signature algorithms by OID (RFC 5758 §3.2, RFC 4055 §5, RFC 8410 §3). */
const SIGNATURE_SCHEMES: ReadonlyMap<string, SignatureScheme> = new Map([
  ['1.2.840.10045.4.3.2', { digest: 'sha256', keyTypes: ['ec'] }], // ecdsa-with-SHA256
  ['1.2.840.10045.4.3.3', { digest: 'sha384', keyTypes: ['ec'] }], // ecdsa-with-SHA384
  ['1.2.840.10045.4.3.4', { digest: 'sha512', keyTypes: ['ec'] }], // ecdsa-with-SHA512
  ['1.2.840.113549.1.1.11', { digest: 'sha256', keyTypes: ['rsa'] }], // sha256WithRSAEncryption
  ['1.2.840.113549.1.1.12', { digest: 'sha384', keyTypes: ['rsa'] }], // sha384WithRSAEncryption
  ['1.2.840.113549.1.1.13', { digest: 'sha512', keyTypes: ['rsa'] }], // sha512WithRSAEncryption
  ['1.3.101.112', { digest: null, keyTypes: ['ed25519'] }], // id-Ed25519
  ['1.3.101.113', { digest: null, keyTypes: ['ed448'] }], // id-Ed448
]);

/** Names of algorithms not supported, for the message. */
const UNSUPPORTED_NAMES: ReadonlyMap<string, string> = new Map([
  [id_RSASSA_PSS, 'RSASSA-PSS with parameters other than SHA-256/384/512, MGF1 with the same hash and trailer 1'],
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
  ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption'],
  ['1.2.840.10045.4.1', 'ecdsa-with-SHA1'],
]);

function describeAlgorithm(oid: string): string {
  const name = UNSUPPORTED_NAMES.get(oid);
  return name === undefined ? oid : `${name} (${oid})`;
}

const PSS_DIGESTS: ReadonlyMap<string, string> = new Map([
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
]);

/**
 * RSASSA-PSS (RFC 4055 §3.1) with SHA-256/384/512, MGF1 with that same hash (node:crypto uses the
 * signature's hash for MGF1) and trailer field 1; undefined for other parameters.
 */
function pssScheme(parameters: ArrayBuffer | null | undefined): SignatureScheme | undefined {
  if (parameters === null || parameters === undefined) return undefined;
  try {
    const pss = AsnConvert.parse(parameters, RsaSaPssParams);
    const digest = PSS_DIGESTS.get(pss.hashAlgorithm.algorithm);
    const mask = pss.maskGenAlgorithm;
    if (
      digest === undefined ||
      mask.algorithm !== id_mgf1 ||
      mask.parameters === null ||
      mask.parameters === undefined ||
      pss.trailerField !== 1
    )
      return undefined;
    if (PSS_DIGESTS.get(AsnConvert.parse(mask.parameters, AlgorithmIdentifier).algorithm) !== digest) return undefined;
    return { digest, keyTypes: ['rsa', 'rsa-pss'], pssSaltLength: pss.saltLength };
  } catch {
    return undefined;
  }
}

function schemeOf(algorithm: AlgorithmIdentifier): SignatureScheme | undefined {
  return algorithm.algorithm === id_RSASSA_PSS ? pssScheme(algorithm.parameters) : SIGNATURE_SCHEMES.get(algorithm.algorithm);
}

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
  if (!scheme.keyTypes.includes(key.asymmetricKeyType ?? '')) return false;
  const tbs = new Uint8Array(crl.tbsCertListRaw ?? AsnConvert.serialize(crl.tbsCertList));
  const pss = scheme.pssSaltLength === undefined ? {} : { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.pssSaltLength };
  try {
    return verify(scheme.digest, tbs, { key, ...pss }, new Uint8Array(crl.signature));
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
    const scheme = schemeOf(crl.signatureAlgorithm);
    if (scheme === undefined)
      throw new FileProblem(path, `CRL: signature algorithm ${describeAlgorithm(crl.signatureAlgorithm.algorithm)} is not supported`);
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
