import { AsnConvert } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { printName, SHORT_NAMES } from '../core/certificate/name.js';

// The text reader below is @peculiar/x509 2.2.0's `Name` string parser (MIT, Peculiar Ventures),
// rewritten over the @peculiar/asn1-x509 classes: `parsePolicy` (and so `import 'certbound'`)
// needs it, and @peculiar/x509 itself cannot load without installing reflect-metadata on the
// global Reflect. It builds the name @peculiar/x509 builds from the same text, byte for byte
// (test/unit/certificate-names.test.ts checks that against @peculiar/x509).

const OID_BY_SHORT_NAME: ReadonlyMap<string, string> = new Map([...SHORT_NAMES].map(([oid, name]) => [name, oid]));
const IA5_TYPES = new Set([OID_BY_SHORT_NAME.get('E'), OID_BY_SHORT_NAME.get('DC')]);

/** pvtsutils' Convert.FromHex, which @peculiar/x509 reads `#hex` values with. */
function fromHex(hex: string): ArrayBuffer {
  let formatted = hex.replace(/[\n\r\t ]/g, '');
  if (formatted === '') return new ArrayBuffer(0);
  if (!/^[0-9a-f\s]+$/i.test(formatted)) throw new TypeError("Argument 'hexString' is not HEX encoded");
  if (formatted.length % 2 !== 0) formatted = `0${formatted}`;
  const bytes = new Uint8Array(formatted.length / 2);
  for (let i = 0; i < formatted.length; i += 2) bytes[i / 2] = parseInt(formatted.slice(i, i + 2), 16);
  return bytes.buffer;
}

/** A value's text: the inside of `"..."`, and `\0a` `\0d` `\0g` and `\x` unescaped. */
function stringValue(text: string): string {
  let value: string | undefined = text;
  const quoted = /"(.*?[^\\])?"/.exec(text);
  if (quoted !== null) value = quoted[1];
  // `""` leaves no value; @peculiar/x509 fails on it the same way.
  if (value === undefined) throw new TypeError('empty quoted value');
  return value
    .replace(/\\0a/gi, '\n')
    .replace(/\\0d/gi, '\r')
    .replace(/\\0g/gi, '\t')
    .replace(/\\(.)/g, '$1');
}

function attribute(type: string, text: string): AttributeTypeAndValue {
  const item = new AttributeTypeAndValue({ type });
  if (text[0] === '#') {
    item.value.anyValue = fromHex(text.slice(1));
    return item;
  }
  const value = stringValue(text);
  if (IA5_TYPES.has(type)) item.value.ia5String = value;
  else if (/^[A-Za-z0-9 '()+,-./:=?]*$/.test(value)) item.value.printableString = value;
  else item.value.utf8String = value;
  return item;
}

/** `CN=alice, O=example` as an X.501 Name, as @peculiar/x509's `new Name(text)` reads it. */
function readName(text: string): Name {
  const name = new Name();
  const regex = /(\d\.[\d.]*\d|[A-Za-z]+)=((?:"")|(?:".*?[^\\]")|(?:[^,+"\\](?=[,+]|$))|(?:[^,+].*?(?:[^\\][,+]))|(?:))([,+])?/g;
  let level: string | undefined = ',';
  for (let match = regex.exec(`${text},`); match !== null; match = regex.exec(`${text},`)) {
    const [, shortOrOid = '', raw = ''] = match;
    let value = raw;
    let next = match[3];
    const last = value[value.length - 1];
    if (last === ',' || last === '+') {
      value = value.slice(0, -1);
      next = last;
    }
    const type = /[\d.]+/.test(shortOrOid) ? shortOrOid : OID_BY_SHORT_NAME.get(shortOrOid);
    if (type === undefined) throw new TypeError(`Cannot get OID for name type '${shortOrOid}'`);
    const item = attribute(type, value);
    const rdn = name[name.length - 1];
    if (level === '+' && rdn !== undefined) rdn.push(item);
    else name.push(new RelativeDistinguishedName([item]));
    level = next;
  }
  return name;
}

/** The name the text stands for, printed from its DER as certificate subjects are. */
function printedFromDer(text: string): string {
  return printName(AsnConvert.parse(AsnConvert.serialize(readName(text)), Name));
}

/**
 * Canonical form of a configured distinguished name, so `CN=alice,O=x` and `CN=alice, O=x` match.
 * The text is encoded as DER and printed by printName, the function that prints certificate
 * subjects (readCertificateFacts), so a name and a certificate with that name compare equal.
 * @throws TypeError when the text is not a distinguished name.
 */
export function canonicalDistinguishedName(text: string): string {
  const problem = `not a distinguished name (e.g. "CN=alice, O=example"): ${JSON.stringify(text)}`;
  // Accept OpenSSL's default print form too (`CN = alice, O = example`): spaces around the `=`
  // after an attribute type are not part of the name. Escaped separators are left alone.
  const compact = text.replace(/(^|(?<!\\)[,+])\s*([A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)\s*=\s*/g, '$1$2=');
  let canonical: string;
  try {
    canonical = printedFromDer(compact);
  } catch (cause) {
    throw new TypeError(problem, { cause });
  }
  // The parser turns text without any attribute (`alice`) into the empty name, which would match
  // every certificate with an empty subject: refuse it rather than fail open.
  if (canonical.trim() === '') throw new TypeError(problem);
  // Text the parser only half understood (a stray character before an attribute type, a value
  // that is only a space) prints as something that parses to yet another name. Such a name could
  // never be matched reliably; refuse it at load rather than compare against a moving target.
  let again: string;
  try {
    again = printedFromDer(canonical);
  } catch (cause) {
    throw new TypeError(problem, { cause });
  }
  if (again !== canonical) throw new TypeError(problem);
  return canonical;
}
