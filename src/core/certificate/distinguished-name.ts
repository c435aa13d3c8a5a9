import 'reflect-metadata'; // @peculiar/x509 resolves its ASN.1 providers through tsyringe, which needs it.
import { Name } from '@peculiar/x509';

/**
 * Canonical form of a configured distinguished name, so `CN=alice,O=x` and `CN=alice, O=x` match.
 * @throws TypeError when the text is not a distinguished name.
 */
export function canonicalDistinguishedName(text: string): string {
  const problem = `not a distinguished name (e.g. "CN=alice, O=example"): ${JSON.stringify(text)}`;
  // Accept OpenSSL's default print form too (`CN = alice, O = example`): spaces around the `=`
  // after an attribute type are not part of the name. Escaped separators are left alone.
  const compact = text.replace(/(^|(?<!\\)[,+])\s*([A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)\s*=\s*/g, '$1$2=');
  let canonical: string;
  try {
    canonical = new Name(compact).toString();
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
    again = new Name(canonical).toString();
  } catch (cause) {
    throw new TypeError(problem, { cause });
  }
  if (again !== canonical) throw new TypeError(problem);
  return canonical;
}

