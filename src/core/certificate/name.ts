import type { Name } from '@peculiar/asn1-x509';

/**
 * Attribute types printed by a short name, by OID: the names @peculiar/x509 registers, so that
 * names print as they did when it printed them. Every other type prints as its dotted OID.
 */
export const SHORT_NAMES: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.6', 'C'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['1.2.840.113549.1.9.1', 'E'],
  ['2.5.4.42', 'G'],
  ['2.5.4.43', 'I'],
  ['2.5.4.4', 'SN'],
  ['2.5.4.12', 'T'],
]);

/**
 * A string value with the characters RFC 4514 §2.4 escapes, as @peculiar/x509 escapes them:
 * `, + " \ < > ;` anywhere, a leading space or `#`, a trailing space, and the first CR, LF or
 * TAB as `\XX` (it replaces only the first one; so does this, to print the same).
 */
function escapeValue(value: string): string {
  return value
    .replace(/([,+"\\<>;])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/([ ]$)/, '\\$1')
    .replace(/([\r\n\t])/, (char) => `\\${Buffer.from(char, 'utf8').toString('hex').toUpperCase()}`);
}

/**
 * A distinguished name in its own RDN order (`CN=alice, O=certbound dev`), RDNs joined by `, `
 * and the attributes of a multi-valued RDN by `+`: the text @peculiar/x509's `Name.toString()`
 * prints and `openssl x509 -subject` shows, the reverse of RFC 4514's string order. A value
 * that is no string type RFC 5280 names (an INTEGER, a VisibleString, ...) prints as `#` and
 * the hex of its DER. Pure: it reads the parsed name only.
 */
export function printName(name: Name): string {
  return name
    .map((rdn) =>
      rdn
        .map(({ type, value }) => {
          const text = value.anyValue ? `#${Buffer.from(value.anyValue).toString('hex')}` : escapeValue(value.toString());
          return `${SHORT_NAMES.get(type) ?? type}=${text}`;
        })
        .join('+'),
    )
    .join(', ');
}
