// Client certificates with odd SubjectAltNames, for property tests: every RFC 5280 §4.2.1.6
// GeneralName type, well-formed and malformed, and SAN extension values that are not GeneralNames
// at all. The bytes are written here with a tiny DER writer; nothing here ever parses them.
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { computeThumbprint } from '../../src/core/thumbprint.js';
import { BACKDATE_MS, type CertificateAuthority, type IssuedCertificate } from '../../src/pki/generate.js';
import { x509 } from '../../src/pki/x509.js';

// ---------------------------------------------------------------------------------------------
// DER writer (fixtures only)

/** A DER length: short form below 128, long form (0x80 | byte count, big-endian) above. */
export function derLength(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad DER length ${length}`);
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with a single-byte tag (class, constructed bit and number < 31 in that byte). */
export function tlv(tag: number, ...body: Uint8Array[]): Buffer {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) throw new RangeError(`bad single-byte tag ${tag}`);
  const content = Buffer.concat(body);
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(0x30, ...items);
export const set = (...items: Uint8Array[]): Buffer => tlv(0x31, ...items);

/** The content octets of an OBJECT IDENTIFIER (X.690 §8.19): first two arcs joined, base 128. */
export function oidContent(arcs: readonly number[]): Buffer {
  const [first, second, ...rest] = arcs;
  if (first === undefined || second === undefined) throw new RangeError('an OID has at least two arcs');
  const out: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const groups: number[] = [];
    for (let value = arc; ; value = Math.floor(value / 128)) {
      groups.unshift(value % 128);
      if (value < 128) break;
    }
    out.push(...groups.map((group, index) => (index < groups.length - 1 ? group | 0x80 : group)));
  }
  return Buffer.from(out);
}

export const oid = (arcs: readonly number[]): Buffer => tlv(0x06, oidContent(arcs));
export const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));

// ---------------------------------------------------------------------------------------------
// GeneralName arbitraries

/** The nine RFC 5280 GeneralName alternatives, by their context tag number [0]..[8]. */
export const GENERAL_NAME_TYPES = [
  'otherName',
  'rfc822Name',
  'dNSName',
  'x400Address',
  'directoryName',
  'ediPartyName',
  'uniformResourceIdentifier',
  'iPAddress',
  'registeredID',
] as const;
export type GeneralNameType = (typeof GENERAL_NAME_TYPES)[number];

/** One encoded GeneralName: which alternative, how it was built, and its DER. */
export interface GeneralNameFixture {
  /** The alternative, or `unknown` for a context tag above [8]. */
  type: GeneralNameType | 'unknown';
  /** How the content was made (`well-formed`, `non-IA5`, `random`, `empty`, ...). */
  form: string;
  der: Buffer;
}

const PRIMITIVE = 0x80;
const CONSTRUCTED = 0xa0;
const tagOf = (type: GeneralNameType): number => GENERAL_NAME_TYPES.indexOf(type);

const name = (type: GeneralNameType, form: string, der: Buffer): GeneralNameFixture => ({ type, form, der });
const primitive = (type: GeneralNameType, form: string, content: Uint8Array): GeneralNameFixture =>
  name(type, form, tlv(PRIMITIVE | tagOf(type), content));
const constructed = (type: GeneralNameType, form: string, ...content: Uint8Array[]): GeneralNameFixture =>
  name(type, form, tlv(CONSTRUCTED | tagOf(type), ...content));

const bytes = (minLength: number, maxLength: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength, maxLength }).map((array) => Buffer.from(array));

/** Bytes with at least one outside IA5 (≥ 0x80), so not an IA5String. */
const nonIa5 = fc.tuple(bytes(0, 16), fc.integer({ min: 0x80, max: 0xff }), fc.nat()).map(([base, high, at]) => {
  const index = at % (base.length + 1);
  return Buffer.concat([base.subarray(0, index), Buffer.from([high]), base.subarray(index)]);
});

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');

/** OID arcs that encode (first arc 0-2, second 0-39 under 0 and 1). */
const oidArcs = fc
  .tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.nat({ max: 2 ** 31 - 1 }), { maxLength: 6 }))
  .map(([a, b, rest]) => [a, b, ...rest]);

/** A DirectoryString (UTF8String, PrintableString or IA5String). */
const directoryString = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map(utf8String),
  fc.stringMatching(/^[A-Za-z0-9 '()+,./:=?-]{1,20}$/).map((text) => tlv(0x13, ascii(text))),
  fc.stringMatching(/^[\x20-\x7e]{1,20}$/).map((text) => tlv(0x16, ascii(text))),
);

/** A Name: RDNs of CN/O/OU/C/serialNumber or random attribute types. */
const distinguishedName = fc
  .array(
    fc.array(
      fc.tuple(fc.oneof(fc.constantFrom([2, 5, 4, 3], [2, 5, 4, 10], [2, 5, 4, 11], [2, 5, 4, 6], [2, 5, 4, 5]), oidArcs), directoryString),
      { minLength: 1, maxLength: 2 },
    ),
    { maxLength: 3 },
  )
  .map((rdns) => sequence(...rdns.map((attributes) => set(...attributes.map(([type, value]) => sequence(oid(type), value))))));

/** A few random TLVs, as the body of a constructed value that has no real schema here. */
const randomTlvs = fc
  .array(fc.tuple(fc.constantFrom(0x02, 0x04, 0x05, 0x0c, 0x13, 0x16, 0x30, 0x31, 0x80, 0xa0, 0xa1), bytes(0, 8)), { maxLength: 3 })
  .map((items) => Buffer.concat(items.map(([tag, body]) => tlv(tag, body))));

const wellFormedOtherName = fc
  .tuple(
    oidArcs,
    fc.oneof(
      directoryString,
      bytes(0, 12).map((body) => tlv(0x04, body)),
      fc.constant(sequence()),
    ),
  )
  .map(([type, value]) => constructed('otherName', 'well-formed', oid(type), tlv(0xa0, value)));

const otherName = fc.oneof(
  wellFormedOtherName,
  fc.constant(constructed('otherName', 'UPN', oid([1, 3, 6, 1, 4, 1, 311, 20, 2, 3]), tlv(0xa0, utf8String('odd@domain.com')))),
  oidArcs.map((type) => constructed('otherName', 'type-id without value', oid(type))),
  bytes(0, 24).map((inner) => constructed('otherName', 'random inner bytes', inner)),
  fc.constant(constructed('otherName', 'empty', Buffer.alloc(0))),
  fc.constant(constructed('otherName', 'empty SEQUENCE inside', sequence())),
);

const wellFormedIa5 = (type: GeneralNameType, text: fc.Arbitrary<string>): fc.Arbitrary<GeneralNameFixture> =>
  text.map((value) => primitive(type, 'well-formed', ascii(value)));
const wellFormedRfc822Name = wellFormedIa5('rfc822Name', fc.emailAddress({ size: 'small' }));
const wellFormedDnsName = wellFormedIa5(
  'dNSName',
  fc.oneof(
    fc.domain({ size: 'small' }),
    fc.domain({ size: 'small' }).map((domain) => `*.${domain}`),
  ),
);
const wellFormedUri = wellFormedIa5(
  'uniformResourceIdentifier',
  fc.oneof(fc.webUrl({ size: 'small' }), fc.constantFrom('spiffe://domain.com/odd', 'urn:odd', 'mailto:odd@domain.com')),
);

/** rfc822Name, dNSName and uniformResourceIdentifier are IA5Strings. */
function ia5Name(type: GeneralNameType, wellFormed: fc.Arbitrary<GeneralNameFixture>): fc.Arbitrary<GeneralNameFixture> {
  return fc.oneof(
    wellFormed,
    nonIa5.map((content) => primitive(type, 'non-IA5', content)),
    bytes(0, 24).map((content) => primitive(type, 'random', content)),
    fc.constant(primitive(type, 'empty', Buffer.alloc(0))),
    bytes(0, 12).map((content) => constructed(type, 'constructed', content)),
  );
}

const rfc822Name = ia5Name('rfc822Name', wellFormedRfc822Name);
const dNSName = ia5Name('dNSName', wellFormedDnsName);
const uniformResourceIdentifier = ia5Name('uniformResourceIdentifier', wellFormedUri);

const x400Address = fc.oneof(
  fc.constant(constructed('x400Address', 'empty', Buffer.alloc(0))),
  fc.constant(constructed('x400Address', 'empty SEQUENCE inside', sequence())),
  randomTlvs.map((inner) => constructed('x400Address', 'random TLVs', sequence(inner))),
  bytes(1, 24).map((inner) => constructed('x400Address', 'random inner bytes', inner)),
);

const wellFormedDirectoryName = distinguishedName.map((dn) => constructed('directoryName', 'well-formed', dn));

const directoryName = fc.oneof(
  wellFormedDirectoryName,
  fc.constant(constructed('directoryName', 'empty Name', sequence())),
  fc.constant(constructed('directoryName', 'empty RDN', sequence(set()))),
  fc.constant(constructed('directoryName', 'empty', Buffer.alloc(0))),
  bytes(1, 24).map((inner) => constructed('directoryName', 'random inner bytes', inner)),
);

const ediPartyName = fc.oneof(
  directoryString.map((party) => constructed('ediPartyName', 'partyName', tlv(0xa1, party))),
  fc
    .tuple(directoryString, directoryString)
    .map(([assigner, party]) => constructed('ediPartyName', 'nameAssigner and partyName', tlv(0xa0, assigner), tlv(0xa1, party))),
  directoryString.map((assigner) => constructed('ediPartyName', 'nameAssigner only', tlv(0xa0, assigner))),
  fc.constant(constructed('ediPartyName', 'empty', Buffer.alloc(0))),
  fc.constant(constructed('ediPartyName', 'empty SEQUENCE inside', sequence())),
  bytes(1, 24).map((inner) => constructed('ediPartyName', 'random inner bytes', inner)),
);

const wellFormedIpAddress = fc.oneof(
  bytes(4, 4).map((content) => primitive('iPAddress', 'IPv4', content)),
  bytes(16, 16).map((content) => primitive('iPAddress', 'IPv6', content)),
);

const iPAddress = fc.oneof(
  wellFormedIpAddress,
  fc.oneof(bytes(8, 8), bytes(32, 32)).map((content) => primitive('iPAddress', 'address and mask', content)),
  bytes(0, 33)
    .filter((content) => content.length !== 4 && content.length !== 16)
    .map((content) => primitive('iPAddress', 'wrong length', content)),
  bytes(0, 8).map((content) => constructed('iPAddress', 'constructed', content)),
);

const wellFormedRegisteredId = oidArcs.map((arcs) => primitive('registeredID', 'well-formed', oidContent(arcs)));

const registeredID = fc.oneof(
  wellFormedRegisteredId,
  bytes(0, 12).map((content) => primitive('registeredID', 'random', content)),
  fc.constant(primitive('registeredID', 'empty', Buffer.alloc(0))),
  fc.constant(primitive('registeredID', 'unterminated arc', Buffer.from([0x2a, 0x86]))),
);

/** A context tag the GeneralName CHOICE does not have ([9] to [30]), primitive or constructed. */
const unknownName = fc
  .tuple(fc.integer({ min: 9, max: 30 }), fc.boolean(), bytes(0, 12))
  .map(([number, isConstructed, content]): GeneralNameFixture => ({
    type: 'unknown',
    form: `[${number}]`,
    der: tlv((isConstructed ? CONSTRUCTED : PRIMITIVE) | number, content),
  }));

/** Each GeneralName alternative's arbitrary. */
export const GENERAL_NAMES: Readonly<Record<GeneralNameType, fc.Arbitrary<GeneralNameFixture>>> = {
  otherName,
  rfc822Name,
  dNSName,
  x400Address,
  directoryName,
  ediPartyName,
  uniformResourceIdentifier,
  iPAddress,
  registeredID,
};

/** Any GeneralName, well-formed or not, of any of the nine types (and now and then none of them). */
export const generalName: fc.Arbitrary<GeneralNameFixture> = fc.oneof(
  ...GENERAL_NAME_TYPES.map((type) => ({ weight: 3, arbitrary: GENERAL_NAMES[type] })),
  { weight: 1, arbitrary: unknownName },
);

/** A GeneralName of a type every parser here reads (otherName, rfc822Name, dNSName, directoryName, URI, iPAddress, registeredID). */
export const wellFormedGeneralName: fc.Arbitrary<GeneralNameFixture> = fc.oneof(
  wellFormedOtherName,
  wellFormedRfc822Name,
  wellFormedDnsName,
  wellFormedDirectoryName,
  wellFormedUri,
  wellFormedIpAddress,
  wellFormedRegisteredId,
);

/** A SubjectAltName extension value (the extnValue octets), what it was built from, and how. */
export interface SanFixture {
  /** `GeneralNames`, `empty GeneralNames`, `trailing bytes`, `truncated`, `wrong outer tag`, `random bytes`. */
  form: string;
  names: GeneralNameFixture[];
  der: Buffer;
  critical: boolean;
}

const generalNamesList = fc.array(generalName, { minLength: 1, maxLength: 4 });
/** Well-formed names with one name of any kind among them, so that one odd name decides. */
const oneOddAmongWellFormed = fc.tuple(fc.array(wellFormedGeneralName, { maxLength: 4 }), generalName, fc.nat()).map(([names, odd, at]) => {
  const index = at % (names.length + 1);
  return [...names.slice(0, index), odd, ...names.slice(index)];
});
type SanBody = Omit<SanFixture, 'critical'>;

/** SAN extension values: mostly GeneralNames, also empty, damaged, or random bytes. */
export const sanExtension: fc.Arbitrary<SanFixture> = fc
  .tuple(
    fc.oneof(
      {
        weight: 3,
        arbitrary: generalNamesList.map((names) => ({ form: 'GeneralNames', names, der: sequence(...names.map((item) => item.der)) })),
      },
      {
        weight: 6,
        arbitrary: oneOddAmongWellFormed.map((names) => ({ form: 'GeneralNames', names, der: sequence(...names.map((item) => item.der)) })),
      },
      { weight: 1, arbitrary: fc.constant<SanBody>({ form: 'empty GeneralNames', names: [], der: sequence() }) },
      {
        weight: 1,
        arbitrary: fc.tuple(generalNamesList, bytes(1, 8)).map(([names, extra]) => ({
          form: 'trailing bytes',
          names,
          der: Buffer.concat([sequence(...names.map((item) => item.der)), extra]),
        })),
      },
      {
        weight: 1,
        arbitrary: generalNamesList.map((names) => ({
          form: 'truncated',
          names,
          der: sequence(...names.map((item) => item.der)).subarray(0, -1),
        })),
      },
      {
        weight: 1,
        arbitrary: generalNamesList.map((names) => ({ form: 'wrong outer tag', names, der: set(...names.map((item) => item.der)) })),
      },
      { weight: 2, arbitrary: bytes(0, 64).map((der) => ({ form: 'random bytes', names: [], der })) },
    ),
    fc.boolean(),
  )
  .map(([san, critical]) => ({ ...san, critical }));

/** A SAN of GeneralNames, not critical: for examples and fixed fixtures. */
export function sanOf(names: readonly GeneralNameFixture[], form = 'GeneralNames'): SanFixture {
  return { form, names: [...names], der: sequence(...names.map((item) => item.der)), critical: false };
}

/** `count` dNSNames `n<i>.huge.domain.com` (the SAN of a large certificate), then `extra`. */
export function hugeSan(count: number, extra: readonly GeneralNameFixture[] = []): SanFixture {
  const names = Array.from({ length: count }, (_, index) => primitive('dNSName', 'well-formed', ascii(`n${index}.huge.domain.com`)));
  return sanOf([...names, ...extra], `${count} dNSNames${extra.length > 0 ? ` + ${extra.map((item) => item.type).join(', ')}` : ''}`);
}

/** One fixed name of every alternative, well-formed and malformed: examples that every run includes. */
export const FIXED_NAMES = {
  otherName: constructed('otherName', 'UPN', oid([1, 3, 6, 1, 4, 1, 311, 20, 2, 3]), tlv(0xa0, utf8String('odd@domain.com'))),
  otherNameEmpty: constructed('otherName', 'empty', Buffer.alloc(0)),
  rfc822Name: primitive('rfc822Name', 'well-formed', ascii('odd@domain.com')),
  rfc822NameNonIa5: primitive('rfc822Name', 'non-IA5', Buffer.from([0x6f, 0xff, 0x40, 0xc3, 0xa9])),
  dNSName: primitive('dNSName', 'well-formed', ascii('odd.domain.com')),
  dNSNameNonIa5: primitive('dNSName', 'non-IA5', Buffer.from([0xc3, 0x28, 0x2e, 0x80])),
  x400Address: constructed('x400Address', 'empty SEQUENCE inside', sequence()),
  x400AddressRandom: constructed('x400Address', 'random inner bytes', Buffer.from([0x09, 0x09, 0xff])),
  directoryName: constructed('directoryName', 'well-formed', sequence(set(sequence(oid([2, 5, 4, 3]), utf8String('odd directory name'))))),
  directoryNameEmpty: constructed('directoryName', 'empty', Buffer.alloc(0)),
  ediPartyName: constructed(
    'ediPartyName',
    'nameAssigner and partyName',
    tlv(0xa0, utf8String('assigner')),
    tlv(0xa1, utf8String('party')),
  ),
  ediPartyNameEmpty: constructed('ediPartyName', 'empty', Buffer.alloc(0)),
  uniformResourceIdentifier: primitive('uniformResourceIdentifier', 'well-formed', ascii('spiffe://domain.com/odd')),
  uniformResourceIdentifierNonIa5: primitive('uniformResourceIdentifier', 'non-IA5', Buffer.from([0x80, 0x81, 0xfe])),
  iPAddress: primitive('iPAddress', 'IPv4', Buffer.from([127, 0, 0, 1])),
  iPAddressWrongLength: primitive('iPAddress', 'wrong length', Buffer.from([10, 0, 0])),
  registeredID: primitive('registeredID', 'well-formed', oidContent([1, 2, 3, 4])),
  registeredIDBad: primitive('registeredID', 'unterminated arc', Buffer.from([0x2a, 0x86])),
} satisfies Record<string, GeneralNameFixture>;

/** Examples for fc.assert: each fixed name alone, then all of them in one SAN, then random bytes. */
export const SAN_EXAMPLES: readonly SanFixture[] = [
  ...Object.values(FIXED_NAMES).map((item) => sanOf([item])),
  sanOf(Object.values(FIXED_NAMES)),
  { form: 'random bytes', names: [], der: Buffer.from([0xde, 0xad, 0xbe, 0xef]), critical: false },
];

// ---------------------------------------------------------------------------------------------
// Certificates

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
export const ODD_SUBJECT = 'CN=odd, O=certbound dev';

export interface OddCertificateOptions {
  san: SanFixture;
  /** The CA that signs it; absent: self-signed. */
  issuer?: CertificateAuthority;
  /** Default `CN=odd, O=certbound dev`. */
  subject?: string;
}

function serialNumber(): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f; // a positive INTEGER
  return serial.toString('hex');
}

/**
 * A client certificate (EKU clientAuth, P-256) whose SubjectAltName extension holds exactly the
 * bytes of `san`, signed by `issuer` (as issueCertificate signs leaves) or by its own key.
 */
export async function issueOddCertificate(options: OddCertificateOptions): Promise<IssuedCertificate> {
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const subject = options.subject ?? ODD_SUBJECT;
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: options.issuer === undefined ? subject : options.issuer.certificate.subjectName,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + DAY_MS),
    signingAlgorithm: EC_P256,
    publicKey: keys.publicKey,
    signingKey: options.issuer === undefined ? keys.privateKey : options.issuer.signingKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      new x509.Extension('2.5.29.17', options.san.critical, options.san.der),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...(options.issuer === undefined ? [] : [await x509.AuthorityKeyIdentifierExtension.create(options.issuer.certificate)]),
    ],
  });
  const der = Buffer.from(certificate.rawData);
  return {
    certPem: `${certificate.toString('pem')}\n`,
    keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    der,
    thumbprint: computeThumbprint(der),
    subject,
  };
}

/** A short description of a SAN for assertion messages (the certificate itself goes as base64). */
export function describeSan(san: SanFixture): string {
  const names = san.names.length > 8 ? `${san.names.length} names` : san.names.map((item) => `${item.type}(${item.form})`).join(', ');
  return `${san.form}${san.critical ? ' (critical)' : ''}${names === '' ? '' : `: ${names}`}`;
}
