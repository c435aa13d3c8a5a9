// readCrl (src/files/crl.ts): CRLs signed with each supported algorithm load; a wrong signature,
// a wrong issuer, an unsupported algorithm, damage and expiry are FileProblems naming the file.
// The CRLs here are built with the @peculiar/asn1-x509 classes and signed by node:crypto, so any
// algorithm and any flaw can be made; createCrl (src/pki) makes the P-256 ones certbound writes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, sign, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { id_mgf1, id_RSASSA_PSS, RsaSaPssParams } from '@peculiar/asn1-rsa';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, CertificateList, TBSCertList, Time, Version } from '@peculiar/asn1-x509';
import { readCrl } from '../../src/files/crl.js';
import { FileProblem } from '../../src/files/read.js';
import { createCertificateAuthority, createCrl, type CertificateAuthority } from '../../src/pki/generate.js';
import { x509 } from '../../src/pki/x509.js';

const DAY_MS = 86_400_000;
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

type KeyType = 'P-256' | 'P-384' | 'rsa' | 'rsa-pss' | 'ed25519' | 'ed448';

interface TestCa {
  subject: string;
  keyType: KeyType;
  certificate: X509Certificate;
  privateKey: KeyObject;
}

function keyPair(type: KeyType): { publicKey: KeyObject; privateKey: KeyObject } {
  switch (type) {
    case 'P-256':
    case 'P-384':
      return generateKeyPairSync('ec', { namedCurve: type });
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'rsa-pss':
      return generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
    case 'ed448':
      return generateKeyPairSync('ed448');
  }
}

/** A CA certificate for a key of any type (its own signature is P-256: readCrl does not check it). */
async function testCa(subject: string, keyType: KeyType): Promise<TestCa> {
  const { publicKey, privateKey } = keyPair(keyType);
  const signer = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: '01',
    subject,
    issuer: subject,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + DAY_MS),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }),
    signingKey: signer.privateKey,
    signingAlgorithm: EC_P256,
  });
  return { subject, keyType, certificate: new X509Certificate(Buffer.from(certificate.rawData)), privateKey };
}

const algorithm = (oid: string, parameters?: ArrayBuffer | null): AlgorithmIdentifier =>
  new AlgorithmIdentifier({ algorithm: oid, ...(parameters === undefined ? {} : { parameters }) });

interface CrlOptions {
  /** signatureAlgorithm, and (unless tbsAlgorithm) the algorithm inside tbsCertList. */
  algorithm: AlgorithmIdentifier;
  tbsAlgorithm?: AlgorithmIdentifier;
  /** Signs the DER of tbsCertList. */
  sign: (tbs: Buffer) => Buffer;
  /** Default: a week from now; null: no nextUpdate. */
  nextUpdate?: Date | null;
}

function pem(der: ArrayBuffer): string {
  return `-----BEGIN X509 CRL-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n')}-----END X509 CRL-----\n`;
}

function buildCrl(ca: X509Certificate, options: CrlOptions): string {
  const tbsCertList = new TBSCertList({
    version: Version.v2,
    signature: options.tbsAlgorithm ?? options.algorithm,
    issuer: AsnConvert.parse(ca.raw, Certificate).tbsCertificate.subject,
    thisUpdate: new Time(new Date()),
    ...(options.nextUpdate === null ? {} : { nextUpdate: new Time(options.nextUpdate ?? new Date(Date.now() + 7 * DAY_MS)) }),
  });
  const signature = options.sign(Buffer.from(AsnConvert.serialize(tbsCertList)));
  return pem(
    AsnConvert.serialize(
      new CertificateList({ tbsCertList, signatureAlgorithm: options.algorithm, signature: new Uint8Array(signature).buffer }),
    ),
  );
}

const NULL = null; // RSA PKCS#1 v1.5 AlgorithmIdentifiers carry NULL parameters (RFC 4055 §5)

let dir: string;
let ec: TestCa;
let ecP384: TestCa;
let rsa: TestCa;
let rsaPss: TestCa;
let ed25519: TestCa;
let ed448: TestCa;
let certboundCa: CertificateAuthority;
let certboundCaCertificate: X509Certificate;

async function load(name: string, text: string, cas: readonly X509Certificate[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return readCrl(path, cas);
}

async function assertProblem(name: string, text: string, cas: readonly X509Certificate[], problem: RegExp): Promise<void> {
  await assert.rejects(load(name, text, cas), (error: unknown) => {
    assert.ok(error instanceof FileProblem, String(error));
    assert.equal(error.path, join(dir, name));
    assert.match(error.message, problem);
    return true;
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certbound-crl-unit-'));
  [ec, ecP384, rsa, rsaPss, ed25519, ed448, certboundCa] = await Promise.all([
    testCa('CN=ec CA, O=certbound test', 'P-256'),
    testCa('CN=p384 CA, O=certbound test', 'P-384'),
    testCa('CN=rsa CA, O=certbound test', 'rsa'),
    testCa('CN=rsa-pss CA, O=certbound test', 'rsa-pss'),
    testCa('CN=ed25519 CA, O=certbound test', 'ed25519'),
    testCa('CN=ed448 CA, O=certbound test', 'ed448'),
    createCertificateAuthority({ commonName: 'crl test CA' }),
  ]);
  certboundCaCertificate = new X509Certificate(certboundCa.certPem);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readCrl: supported signature algorithms', () => {
  test('createCrl (P-256, ecdsa-with-SHA256) loads and is returned as read', async () => {
    const text = await createCrl(certboundCa, { revoked: [] });
    assert.equal(await load('certbound.crl', text, [certboundCaCertificate]), text);
  });

  const cases: Array<[string, () => TestCa, string, string | null, ArrayBuffer | null | undefined]> = [
    ['ecdsa-with-SHA256', () => ec, '1.2.840.10045.4.3.2', 'sha256', undefined],
    ['ecdsa-with-SHA384', () => ecP384, '1.2.840.10045.4.3.3', 'sha384', undefined],
    ['ecdsa-with-SHA512', () => ec, '1.2.840.10045.4.3.4', 'sha512', undefined],
    ['sha256WithRSAEncryption', () => rsa, '1.2.840.113549.1.1.11', 'sha256', NULL],
    ['sha384WithRSAEncryption', () => rsa, '1.2.840.113549.1.1.12', 'sha384', NULL],
    ['sha512WithRSAEncryption', () => rsa, '1.2.840.113549.1.1.13', 'sha512', NULL],
    ['Ed25519', () => ed25519, '1.3.101.112', null, undefined],
    ['Ed448', () => ed448, '1.3.101.113', null, undefined],
  ];
  for (const [name, ca, oid, digest, parameters] of cases) {
    test(`${name}: a CRL signed by the CA loads; one signed by another key of the same name does not`, async () => {
      const { certificate, privateKey, subject, keyType } = ca();
      const good = buildCrl(certificate, { algorithm: algorithm(oid, parameters), sign: (tbs) => sign(digest, tbs, privateKey) });
      assert.equal(await load(`${name}.crl`, good, [ec.certificate, certificate]), good);
      // Same issuer name, but the key of another CA of the same type.
      const other = await testCa(subject, keyType);
      const forged = buildCrl(certificate, { algorithm: algorithm(oid, parameters), sign: (tbs) => sign(digest, tbs, other.privateKey) });
      await assertProblem(
        `${name}-forged.crl`,
        forged,
        [certificate],
        /CRL: not signed by a CA in the CA bundle \(CRL issuer CN=.* CA, O=certbound test\)$/,
      );
    });
  }
});

describe('readCrl: refusals', () => {
  const ecCrl = (options: Partial<CrlOptions> = {}): string =>
    buildCrl(ec.certificate, {
      algorithm: algorithm('1.2.840.10045.4.3.2'),
      sign: (tbs) => sign('sha256', tbs, ec.privateKey),
      ...options,
    });

  test('a CRL whose issuer is no CA in the bundle names its issuer', async () => {
    await assertProblem(
      'foreign.crl',
      ecCrl(),
      [rsa.certificate, certboundCaCertificate],
      /foreign\.crl: CRL: not signed by a CA in the CA bundle \(CRL issuer CN=ec CA, O=certbound test\)$/,
    );
  });

  test('a damaged signature is not a signature of the CA', async () => {
    const damaged = (tbs: Buffer): Buffer => {
      const signature = sign('sha256', tbs, ec.privateKey);
      signature.writeUInt8((signature.at(-1) as number) ^ 1, signature.length - 1);
      return signature;
    };
    const text = ecCrl({ sign: damaged });
    await assertProblem('damaged.crl', text, [ec.certificate], /CRL: not signed by a CA in the CA bundle/);
  });

  test('a signature by an RSA key under an ECDSA algorithm is refused, not misread', async () => {
    const text = buildCrl(ec.certificate, {
      algorithm: algorithm('1.2.840.113549.1.1.11', NULL),
      sign: (tbs) => sign('sha256', tbs, rsa.privateKey),
    });
    await assertProblem('wrong-key-type.crl', text, [ec.certificate], /CRL: not signed by a CA in the CA bundle/);
  });

  test('RFC 5280 §5.1.1.2: tbsCertList.signature differing from signatureAlgorithm is refused', async () => {
    await assertProblem(
      'mismatch.crl',
      ecCrl({ tbsAlgorithm: algorithm('1.2.840.10045.4.3.3') }),
      [ec.certificate],
      /CRL: not signed by a CA in the CA bundle/,
    );
  });

  test('an unsupported algorithm is named', async () => {
    const sha1 = buildCrl(rsa.certificate, {
      algorithm: algorithm('1.2.840.113549.1.1.5', NULL),
      sign: (tbs) => sign('sha1', tbs, rsa.privateKey),
    });
    await assertProblem(
      'sha1.crl',
      sha1,
      [rsa.certificate],
      /sha1\.crl: CRL: signature algorithm sha1WithRSAEncryption \(1\.2\.840\.113549\.1\.1\.5\) is not supported$/,
    );
    const unknown = ecCrl({ algorithm: algorithm('1.2.3.4') });
    await assertProblem('unknown.crl', unknown, [ec.certificate], /unknown\.crl: CRL: signature algorithm 1\.2\.3\.4 is not supported$/);
  });

  test('expired: nextUpdate in the past; no nextUpdate is never expired', async () => {
    const nextUpdate = new Date(Math.floor((Date.now() - DAY_MS) / 1000) * 1000);
    await assertProblem(
      'expired.crl',
      ecCrl({ nextUpdate }),
      [ec.certificate],
      new RegExp(
        `CRL: expired at ${nextUpdate.toISOString().replace(/\./g, '\\.')} \\(nextUpdate\\); every client of its CA would be refused$`,
      ),
    );
    const open = ecCrl({ nextUpdate: null });
    assert.equal(await load('open.crl', open, [ec.certificate]), open);
  });

  test('a PEM block that is not a CRL, or not base64, cannot be parsed', async () => {
    await assertProblem('not-der.crl', pem(new Uint8Array([1, 2, 3, 4]).buffer), [ec.certificate], /not-der\.crl: CRL: cannot be parsed$/);
    await assertProblem(
      'not-base64.crl',
      '-----BEGIN X509 CRL-----\n!!!!\n-----END X509 CRL-----\n',
      [ec.certificate],
      /CRL: cannot be parsed$/,
    );
    const certificateAsCrl = pem(new Uint8Array(ec.certificate.raw).buffer);
    await assertProblem('certificate.crl', certificateAsCrl, [ec.certificate], /CRL: cannot be parsed$/);
  });

  test('every CRL in the file is checked: a good one and then a foreign one is refused', async () => {
    const rsaCrl = buildCrl(rsa.certificate, {
      algorithm: algorithm('1.2.840.113549.1.1.11', NULL),
      sign: (tbs) => sign('sha256', tbs, rsa.privateKey),
    });
    const both = `${ecCrl()}${rsaCrl}`;
    assert.equal(await load('both.crl', both, [ec.certificate, rsa.certificate]), both);
    await assertProblem(
      'half.crl',
      both,
      [ec.certificate],
      /CRL: not signed by a CA in the CA bundle \(CRL issuer CN=rsa CA, O=certbound test\)$/,
    );
  });
});

const SHA256 = '2.16.840.1.101.3.4.2.1';
const SHA384 = '2.16.840.1.101.3.4.2.2';
const SHA1 = '1.3.14.3.2.26';

/** An RSASSA-PSS AlgorithmIdentifier (RFC 4055 §3.1). */
function pss(hash: string, saltLength: number, mgf1Hash = hash): AlgorithmIdentifier {
  const params = new RsaSaPssParams({
    hashAlgorithm: algorithm(hash, NULL),
    maskGenAlgorithm: algorithm(id_mgf1, AsnConvert.serialize(algorithm(mgf1Hash, NULL))),
    saltLength,
  });
  return algorithm(id_RSASSA_PSS, AsnConvert.serialize(params));
}

const pssSigner =
  (digest: string, saltLength: number, key: () => KeyObject) =>
  (tbs: Buffer): Buffer =>
    sign(digest, tbs, { key: key(), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });

describe('readCrl: RSASSA-PSS', () => {
  test('SHA-256 and SHA-384, by an rsaEncryption key and by an RSASSA-PSS key', async () => {
    for (const [ca, digest, hash, saltLength] of [
      [rsa, 'sha256', SHA256, 32],
      [rsaPss, 'sha384', SHA384, 48],
      [rsa, 'sha256', SHA256, 0],
    ] as const) {
      const text = buildCrl(ca.certificate, { algorithm: pss(hash, saltLength), sign: pssSigner(digest, saltLength, () => ca.privateKey) });
      assert.equal(await load(`pss-${digest}-${saltLength}.crl`, text, [ca.certificate]), text);
    }
  });

  test('a salt length other than the parameters say is not a signature of the CA', async () => {
    const text = buildCrl(rsa.certificate, { algorithm: pss(SHA256, 32), sign: pssSigner('sha256', 20, () => rsa.privateKey) });
    await assertProblem('pss-salt.crl', text, [rsa.certificate], /CRL: not signed by a CA in the CA bundle/);
  });

  test('SHA-1 (the RFC 4055 default), or MGF1 with another hash, is not supported', async () => {
    const defaults = algorithm(id_RSASSA_PSS, AsnConvert.serialize(new RsaSaPssParams()));
    const sha1 = buildCrl(rsa.certificate, { algorithm: defaults, sign: pssSigner('sha1', 20, () => rsa.privateKey) });
    await assertProblem(
      'pss-sha1.crl',
      sha1,
      [rsa.certificate],
      /pss-sha1\.crl: CRL: signature algorithm RSASSA-PSS with parameters other than SHA-256\/384\/512, MGF1 with the same hash and trailer 1 \(1\.2\.840\.113549\.1\.1\.10\) is not supported$/,
    );
    const mixed = buildCrl(rsa.certificate, { algorithm: pss(SHA256, 32, SHA1), sign: pssSigner('sha256', 32, () => rsa.privateKey) });
    await assertProblem('pss-mgf1.crl', mixed, [rsa.certificate], /CRL: signature algorithm RSASSA-PSS .* is not supported$/);
  });
});
