// printName (src/core/certificate/name.ts) prints distinguished names as @peculiar/x509's
// Name.toString() did, and canonicalDistinguishedName (src/pki/distinguished-name.ts) reads
// configured text as @peculiar/x509's Name parser did. Known answers first, then both checked
// against @peculiar/x509 itself on random input.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Name } from '@peculiar/asn1-x509';
import fc from 'fast-check';
import { readCertificateFacts } from '../../src/core/certificate/facts.js';
import { printName } from '../../src/core/certificate/name.js';
import { canonicalDistinguishedName } from '../../src/pki/distinguished-name.js';
import { x509 } from '../../src/pki/x509.js';
import { issueOddCertificate, oid, sanOf, FIXED_NAMES, sequence, set, tlv, utf8String } from '../helpers/odd-certificates.js';

const CN = [2, 5, 4, 3];
const O = [2, 5, 4, 10];
const OU = [2, 5, 4, 11];
const C = [2, 5, 4, 6];

const atv = (type: readonly number[], value: Buffer): Buffer => sequence(oid(type), value);
const printable = (text: string): Buffer => tlv(0x13, Buffer.from(text, 'latin1'));
const ia5 = (text: string): Buffer => tlv(0x16, Buffer.from(text, 'latin1'));
const bmp = (text: string): Buffer => tlv(0x1e, Buffer.from(text, 'utf16le').swap16());
const universal = (text: string): Buffer =>
  tlv(
    0x1c,
    Buffer.from(
      [...text].flatMap((char) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(char.codePointAt(0) as number);
        return [...b];
      }),
    ),
  );
/** A Name of one single-valued RDN per attribute. */
const rdns = (...attributes: Buffer[]): Buffer => sequence(...attributes.map((item) => set(item)));

function print(der: Buffer): string {
  return printName(AsnConvert.parse(der, Name));
}

describe('printName (known answers)', () => {
  test('RDNs in the order the name encodes them, joined by ", "', () => {
    assert.equal(print(rdns(atv(CN, utf8String('alice')), atv(O, utf8String('certbound dev')))), 'CN=alice, O=certbound dev');
    assert.equal(print(rdns(atv(C, printable('DE')), atv(O, utf8String('x')), atv(CN, utf8String('alice')))), 'C=DE, O=x, CN=alice');
  });

  test('a multi-valued RDN joins its attributes by "+", in encoded order', () => {
    assert.equal(
      print(sequence(set(atv(CN, utf8String('alice')), atv(OU, utf8String('dev'))), set(atv(O, utf8String('x'))))),
      'CN=alice+OU=dev, O=x',
    );
    assert.equal(print(sequence(set(atv(OU, utf8String('dev')), atv(CN, utf8String('alice'))))), 'OU=dev+CN=alice');
  });

  test('the short names @peculiar/x509 knows', () => {
    const types: Array<[string, number[]]> = [
      ['CN', CN],
      ['L', [2, 5, 4, 7]],
      ['ST', [2, 5, 4, 8]],
      ['O', O],
      ['OU', OU],
      ['C', C],
      ['DC', [0, 9, 2342, 19200300, 100, 1, 25]],
      ['E', [1, 2, 840, 113549, 1, 9, 1]],
      ['G', [2, 5, 4, 42]],
      ['I', [2, 5, 4, 43]],
      ['SN', [2, 5, 4, 4]],
      ['T', [2, 5, 4, 12]],
    ];
    const der = rdns(...types.map(([, type], index) => atv(type, ia5(`v${index}`))));
    assert.equal(print(der), types.map(([name], index) => `${name}=v${index}`).join(', '));
  });

  test('a type without a short name prints as its dotted OID', () => {
    assert.equal(print(rdns(atv([2, 5, 4, 5], printable('0042')))), '2.5.4.5=0042'); // serialNumber, not SN (surname)
    assert.equal(print(rdns(atv([1, 3, 6, 1, 4, 1, 99999, 1], utf8String('x')), atv(CN, utf8String('y')))), '1.3.6.1.4.1.99999.1=x, CN=y');
  });

  test('escaping: , + " \\ < > ; anywhere, a leading # or space, a trailing space; = and an inner # stay', () => {
    assert.equal(print(rdns(atv(CN, utf8String('a,b+c"d\\e<f>g;h')))), 'CN=a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h');
    assert.equal(print(rdns(atv(CN, utf8String('a=b#c')))), 'CN=a=b#c');
    assert.equal(print(rdns(atv(CN, utf8String('#hash')))), 'CN=\\#hash');
    assert.equal(print(rdns(atv(CN, utf8String(' lead')))), 'CN=\\ lead');
    assert.equal(print(rdns(atv(CN, utf8String('trail ')))), 'CN=trail\\ ');
    assert.equal(print(rdns(atv(CN, utf8String('in side')))), 'CN=in side');
  });

  test('CR, LF and TAB print as \\XX, the first of them only (as @peculiar/x509 does)', () => {
    assert.equal(print(rdns(atv(CN, utf8String('a\nb')))), 'CN=a\\0Ab');
    assert.equal(print(rdns(atv(CN, utf8String('a\tb\rc')))), 'CN=a\\09b\rc');
  });

  test('every DirectoryString type and IA5String print as their text', () => {
    assert.equal(print(rdns(atv(CN, utf8String('Jürgen')), atv(O, printable('P')), atv(OU, ia5('i')))), 'CN=Jürgen, O=P, OU=i');
    assert.equal(print(rdns(atv(CN, bmp('bmp é')), atv(O, universal('uni €')))), 'CN=bmp é, O=uni €');
    assert.equal(print(rdns(atv(CN, utf8String('')))), 'CN=');
  });

  test('a value of another type prints as # and the hex of its DER', () => {
    assert.equal(print(rdns(atv(CN, tlv(0x02, Buffer.from([5]))))), 'CN=#020105'); // INTEGER 5
    assert.equal(print(rdns(atv(CN, tlv(0x1a, Buffer.from('vis', 'latin1'))))), 'CN=#1a03766973'); // VisibleString
    assert.equal(print(rdns(atv(O, sequence(utf8String('x'))))), 'O=#30030c0178');
  });

  test('the empty name prints as the empty string', () => {
    assert.equal(print(sequence()), '');
  });
});

// ---------------------------------------------------------------------------------------------
// Against @peculiar/x509

const SHORT_NAME_OIDS = [
  CN,
  O,
  OU,
  C,
  [2, 5, 4, 7],
  [2, 5, 4, 8],
  [0, 9, 2342, 19200300, 100, 1, 25],
  [1, 2, 840, 113549, 1, 9, 1],
  [2, 5, 4, 4],
  [2, 5, 4, 5],
  [2, 5, 4, 12],
  [2, 5, 4, 42],
  [2, 5, 4, 43],
];
const attributeTypes = fc.oneof(
  fc.constantFrom(...SHORT_NAME_OIDS),
  fc
    .tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.nat({ max: 2 ** 31 - 1 }), { maxLength: 5 }))
    .map(([a, b, rest]) => [a, b, ...rest]),
);
const valueText = fc.string({
  unit: fc.constantFrom(',', '+', '"', '\\', '<', '>', ';', '=', '#', ' ', '\r', '\n', '\t', 'a', 'Z', '0', '.', 'é', '€', '😀', '\u0000'),
  maxLength: 10,
});
const attributeValues = fc.oneof(
  valueText.map(utf8String),
  valueText.map(printable),
  valueText.map(ia5),
  valueText.map((text) => tlv(0x14, Buffer.from(text, 'latin1'))), // TeletexString
  valueText.map(bmp),
  valueText.map(universal),
  fc
    .tuple(fc.constantFrom(0x02, 0x04, 0x05, 0x12, 0x1a, 0x30, 0x31), fc.uint8Array({ maxLength: 6 }))
    .map(([tag, body]) => tlv(tag, Buffer.from(body))),
);
const names = fc
  .array(fc.array(fc.tuple(attributeTypes, attributeValues), { minLength: 1, maxLength: 3 }), { maxLength: 4 })
  .map((items) => sequence(...items.map((rdn) => set(...rdn.map(([type, value]) => atv(type, value))))));

/** What a function returns, or that it threw. */
function outcome<T>(fn: () => T): { value: T } | { threw: true } {
  try {
    return { value: fn() };
  } catch {
    return { threw: true };
  }
}

/**
 * canonicalDistinguishedName with @peculiar/x509 reading the text, as the brief for the move
 * describes it: `new Name(text).toArrayBuffer()`, parsed again and printed by printName.
 */
function referenceCanonical(text: string): string {
  const compact = text.replace(/(^|(?<!\\)[,+])\s*([A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)\s*=\s*/g, '$1$2=');
  const printed = (value: string): string => printName(AsnConvert.parse(new x509.Name(value).toArrayBuffer(), Name));
  const canonical = printed(compact);
  if (canonical.trim() === '' || printed(canonical) !== canonical) throw new TypeError('not a distinguished name');
  return canonical;
}

const dnText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(
      'CN',
      'O',
      'DC',
      'E',
      '=',
      ',',
      '+',
      ' ',
      '\\',
      '"',
      '#',
      'a',
      '1',
      '0c',
      '.',
      ';',
      '2.5.4.3',
      '9.9',
      'é',
      '€',
      '\n',
      '\\0a',
      '\\0D',
      '\\0g',
      'toString',
    ),
    maxLength: 16,
  }),
  fc
    .array(fc.tuple(fc.constantFrom('CN', 'O', 'OU', 'C', 'DC', 'E', 'SN', '2.5.4.5', '1.2.3'), valueText), { minLength: 1, maxLength: 4 })
    .map((items) => items.map(([type, value]) => `${type}=${value}`).join(', ')),
);

describe('printName and canonicalDistinguishedName against @peculiar/x509', () => {
  test('printName prints any encoded name as @peculiar/x509 Name.toString() does', () => {
    fc.assert(
      fc.property(names, (der) => {
        const ours = outcome(() => print(der));
        const theirs = outcome(() => new x509.Name(der).toString());
        assert.deepEqual(ours, theirs, `name ${der.toString('hex')}`);
      }),
      { numRuns: 1000 },
    );
  });

  test('canonicalDistinguishedName reads text as @peculiar/x509 Name does (same DER, so same canonical form)', () => {
    fc.assert(
      fc.property(dnText, (text) => {
        const ours = outcome(() => canonicalDistinguishedName(text));
        assert.deepEqual(
          ours,
          outcome(() => referenceCanonical(text)),
          JSON.stringify(text),
        );
      }),
      { numRuns: 2000 },
    );
  });

  test('a configured name equals the subjectDn of a certificate issued with that name', async () => {
    const san = sanOf([FIXED_NAMES.dNSName]);
    await fc.assert(
      fc.asyncProperty(dnText, async (text) => {
        const canonical = outcome(() => canonicalDistinguishedName(text));
        if (!('value' in canonical)) return;
        const certificate = await issueOddCertificate({ san, subject: canonical.value });
        assert.equal(readCertificateFacts(certificate.der).subjectDn, canonical.value, JSON.stringify(text));
      }),
      { numRuns: 100 },
    );
  });

  test('the canonical form is printed from the DER: a #hex value that is a string prints as that string', () => {
    assert.equal(canonicalDistinguishedName('CN=#0c05616c696365, O=x'), 'CN=alice, O=x');
    assert.equal(canonicalDistinguishedName('CN=#020105'), 'CN=#020105');
  });
});
