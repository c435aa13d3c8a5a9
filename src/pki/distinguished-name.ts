import { AsnConvert } from '@peculiar/asn1-schema';
import { Name } from '@peculiar/asn1-x509';
import { printName } from '../core/certificate/name.js';
import { x509 } from './x509.js';
import { misuse } from '../core/config-error.js';

/** The name the text stands for, printed from its DER as certificate subjects are. */
function printedFromDer(text: string): string {
  // @peculiar/x509 reads the text (RFC 4514 strings are its business, not ours); printName prints it.
  return printName(AsnConvert.parse(new x509.Name(text).toArrayBuffer(), Name));
}

/**
 * Canonical form of a configured distinguished name, so `CN=alice,O=x` and `CN=alice, O=x` match.
 * The text is encoded as DER and printed by printName, the function that prints certificate
 * subjects (readCertificateFacts), so a name and a certificate with that name compare equal.
 * @throws ConfigError when the text is not a distinguished name.
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
    throw misuse(problem, { cause });
  }
  // The parser turns text without any attribute (`alice`) into the empty name, which would match
  // every certificate with an empty subject: refuse it rather than fail open.
  if (canonical.trim() === '') throw misuse(problem);
  // Text the parser only half understood (a stray character before an attribute type, a value
  // that is only a space) prints as something that parses to yet another name. Such a name could
  // never be matched reliably; refuse it at load rather than compare against a moving target.
  let again: string;
  try {
    again = printedFromDer(canonical);
  } catch (cause) {
    throw misuse(problem, { cause });
  }
  if (again !== canonical) throw misuse(problem);
  return canonical;
}
