import { createPrivateKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { computeThumbprint } from '../core/thumbprint.js';
import { x509 } from './x509.js';
import { DEFAULTS } from '../defaults.js';
import { misuse } from '../core/config-error.js';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** P-256 everywhere: generation takes milliseconds and every TLS stack accepts it. */
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** Backdate notBefore so a peer whose clock runs a little behind still accepts new certificates. */
export const BACKDATE_MS = DEFAULTS.pki.backdateMs;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A certificate and its private key, as PEM, with its DER and x5t#S256. */
export interface IssuedCertificate {
  certPem: string;
  /** PKCS#8 PEM; empty when the key stays in a token (LeafOptions.publicKey). */
  keyPem: string;
  der: Buffer;
  thumbprint: string;
  subject: string;
}

/** A CA that can issue certificates. Keep it in memory; write only its PEM. */
export interface CertificateAuthority extends IssuedCertificate {
  readonly signingKeys: CryptoKeyPair;
  readonly certificate: x509.X509Certificate;
}

export interface NameOptions {
  commonName: string;
  /** Organization (O=) in the subject; default "certbound dev". */
  organization?: string;
}

export interface ValidityOptions {
  /** Start of validity (default: now minus 5 minutes). */
  notBefore?: Date;
  /** End of validity (default depends on the kind of certificate). */
  notAfter?: Date;
  /** Clock for the defaults, in ms. */
  now?: number;
}

export interface LeafOptions extends NameOptions, ValidityOptions {
  /** serverAuth, clientAuth, or both (EKU). */
  usage: 'server' | 'client' | 'both';
  dnsNames?: string[];
  ipAddresses?: string[];
  uris?: string[];
  emails?: string[];
  /**
   * Certify this public key (EC P-256/P-384 or RSA) instead of generating a key pair: a key that
   * lives in a PKCS#11 token. The result's keyPem is then empty.
   */
  publicKey?: KeyObject;
}

function distinguishedName({ commonName, organization = 'certbound dev' }: NameOptions): string {
  if (/[,+=\\"<>;#]/.test(commonName) || /[,+=\\"<>;#]/.test(organization)) {
    throw misuse('certificate names may not contain , + = \\ " < > ; #');
  }
  return `CN=${commonName}, O=${organization}`;
}

function validity(options: ValidityOptions, lifetimeDays: number): { notBefore: Date; notAfter: Date } {
  const now = options.now ?? Date.now();
  return {
    notBefore: options.notBefore ?? new Date(now - BACKDATE_MS),
    notAfter: options.notAfter ?? new Date(now + lifetimeDays * DAY_MS),
  };
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f; // positive INTEGER
  return bytes.toString('hex');
}

async function keyPem(keys: CryptoKeyPair): Promise<string> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
}

async function finish(certificate: x509.X509Certificate, keys: CryptoKeyPair | undefined): Promise<IssuedCertificate> {
  const der = Buffer.from(certificate.rawData);
  return {
    certPem: `${certificate.toString('pem')}\n`,
    keyPem: keys === undefined ? '' : await keyPem(keys),
    der,
    thumbprint: computeThumbprint(der),
    subject: certificate.subject,
  };
}

function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

/** A self-signed root CA (default validity 5 years). */
export async function createCertificateAuthority(options: NameOptions & ValidityOptions): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: distinguishedName(options),
    ...validity(options, 5 * 365),
    signingAlgorithm: EC_P256,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { ...(await finish(certificate, keys)), signingKeys: keys, certificate };
}

/** A leaf certificate signed by `ca` (default validity 1 year). */
export async function issueCertificate(ca: CertificateAuthority, options: LeafOptions): Promise<IssuedCertificate> {
  const keys = options.publicKey === undefined ? await generateKeys() : undefined;
  const publicKey = keys?.publicKey ?? (await importPublicKey(options.publicKey as KeyObject));
  const names: x509.JsonGeneralName[] = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(options.emails ?? []).map((value) => ({ type: 'email' as const, value })),
  ];
  const usages = {
    server: [x509.ExtendedKeyUsage.serverAuth],
    client: [x509.ExtendedKeyUsage.clientAuth],
    both: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
  }[options.usage];
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: distinguishedName(options),
    issuer: ca.certificate.subjectName,
    ...validity(options, 365),
    signingAlgorithm: EC_P256,
    publicKey,
    signingKey: ca.signingKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(usages, false),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
    ],
  });
  return finish(certificate, keys);
}

/** A public key from elsewhere (a token) as the CryptoKey @peculiar/x509 certifies. */
function importPublicKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  const spki = key.export({ type: 'spki', format: 'der' });
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'rsa')
    return webcrypto.subtle.importKey('spki', spki, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, ['verify']);
  if (key.asymmetricKeyType === 'ec' && (curve === 'prime256v1' || curve === 'secp384r1')) {
    return webcrypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: curve === 'prime256v1' ? 'P-256' : 'P-384' }, true, [
      'verify',
    ]);
  }
  throw misuse('certificates can be issued for EC P-256/P-384 and RSA keys');
}

/** An ES256 (P-256) JWT signing key as PKCS#8 PEM. */
export async function generateSigningKeyPem(): Promise<string> {
  return keyPem(await generateKeys());
}

export interface CrlOptions {
  /** Certificates (PEM) or serial numbers (hex) to list as revoked. */
  revoked: ReadonlyArray<string>;
  /** When this CRL was issued (default now). */
  thisUpdate?: Date;
  /** When relying parties must have a newer one (default thisUpdate + 7 days). */
  nextUpdate?: Date;
}

/** A CRL signed by `ca` listing `revoked`, as PEM (what `--tls-crl` reads). */
export async function createCrl(ca: CertificateAuthority, options: CrlOptions): Promise<string> {
  const thisUpdate = options.thisUpdate ?? new Date();
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.certificate.subjectName,
    thisUpdate,
    nextUpdate: options.nextUpdate ?? new Date(thisUpdate.getTime() + 7 * DAY_MS),
    signingAlgorithm: EC_P256,
    signingKey: ca.signingKeys.privateKey,
    entries: options.revoked.map((item) => ({
      serialNumber: item.includes('-----BEGIN') ? new x509.X509Certificate(item).serialNumber : item,
      revocationDate: thisUpdate,
      reason: x509.X509CrlReason.keyCompromise,
    })),
  });
  // RFC 7468 §5 names the label "X509 CRL", the only one OpenSSL (and so node:tls) reads.
  return `${x509.PemConverter.encode(crl.rawData, 'X509 CRL')}\n`;
}

/** A CA from its PEM certificate and PKCS#8 key (as `certbound pki init` writes them). */
export async function loadCertificateAuthority(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(certPem);
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, EC_P256, true, ['sign']);
  const publicKey = await certificate.publicKey.export(EC_P256, ['verify']);
  return { ...(await finish(certificate, { privateKey, publicKey })), keyPem, signingKeys: { privateKey, publicKey }, certificate };
}

/** The serial numbers (hex) a PEM CRL lists, to carry them into the next one. */
export function revokedSerials(crlPem: string): string[] {
  return new x509.X509Crl(crlPem).entries.map((entry) => entry.serialNumber);
}
