import 'reflect-metadata'; // @peculiar/x509 resolves its ASN.1 providers through tsyringe, which needs it.
import { Name, SubjectAlternativeNameExtension, X509Certificate } from '@peculiar/x509';
import { compileSpiffePattern, parseSpiffeId } from './spiffe.js';
import { computeThumbprint } from './thumbprint.js';

/**
 * What policy may match a client certificate on: the facts RFC 8705 §2.1.2 registers
 * (subject DN and SANs) plus the thumbprint. Computed once per TLS connection.
 */
export interface CertificateFacts {
  thumbprint: string;
  /**
   * Subject DN in the certificate's own RDN order, as @peculiar/x509 and `openssl x509 -subject`
   * print it (e.g. `CN=alice, O=certbound dev`): the reverse of RFC 4514's string order.
   */
  subjectDn: string;
  san: {
    dns: string[];
    uri: string[];
    ip: string[];
    email: string[];
  };
  /**
   * The SPIFFE ID of an X509-SVID: set only when the certificate has exactly one URI SAN and it is
   * a valid SPIFFE ID (X509-SVID §2).
   */
  spiffeId: string | undefined;
  /** Validity period, milliseconds since the epoch. */
  notBefore: number;
  notAfter: number;
}

/** Read the matchable facts of a DER certificate. X.509 parsing is @peculiar/x509's, not ours. */
export function readCertificateFacts(der: Uint8Array): CertificateFacts {
  const certificate = new X509Certificate(der);
  const san: CertificateFacts['san'] = { dns: [], uri: [], ip: [], email: [] };
  const extension = certificate.getExtension(SubjectAlternativeNameExtension);
  for (const name of extension?.names.items ?? []) {
    if (name.type === 'dns') san.dns.push(name.value);
    else if (name.type === 'url') san.uri.push(name.value);
    else if (name.type === 'ip') san.ip.push(name.value);
    else if (name.type === 'email') san.email.push(name.value);
  }
  const spiffeId = san.uri.length === 1 && parseSpiffeId(san.uri[0] as string) !== undefined ? san.uri[0] : undefined;
  return {
    thumbprint: computeThumbprint(der),
    subjectDn: certificate.subject,
    san,
    spiffeId,
    notBefore: certificate.notBefore.getTime(),
    notAfter: certificate.notAfter.getTime(),
  };
}

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

/**
 * A rule picking out client certificates. Exactly one field is set; names follow the RFC 8705
 * §2.1.2 client metadata (`tls_client_auth_subject_dn`, `tls_client_auth_san_dns`, ...).
 */
export type CertificateMatcher =
  | { 'x5t#S256': string }
  | { subject_dn: string }
  | { san_dns: string }
  | { san_uri: string }
  | { san_ip: string }
  | { san_email: string }
  /** A SPIFFE ID pattern (see spiffe.ts): `spiffe://domain.com/ns/*\/sa/billing`. */
  | { spiffe_id: string };

export const MATCHER_FIELDS = ['x5t#S256', 'subject_dn', 'san_dns', 'san_uri', 'san_ip', 'san_email', 'spiffe_id'] as const;

const spiffePatterns = new Map<string, ReturnType<typeof compileSpiffePattern>>();

/**
 * Whether a certificate satisfies a matcher. Subject DNs must be given canonical (see above).
 * `caVerified: false` (a self-signed client) lets only `x5t#S256` match.
 */
export function certificateMatches(matcher: CertificateMatcher, facts: CertificateFacts, caVerified = true): boolean {
  if ('x5t#S256' in matcher) return matcher['x5t#S256'] === facts.thumbprint;
  // Names and SANs mean something only when a trusted CA vouched for them; anyone can put
  // "CN=alice" in a self-signed certificate. Only the exact thumbprint holds without a CA.
  if (!caVerified) return false;
  if ('subject_dn' in matcher) return matcher.subject_dn === facts.subjectDn;
  if ('san_dns' in matcher) return facts.san.dns.some((v) => v.toLowerCase() === matcher.san_dns.toLowerCase());
  if ('san_uri' in matcher) return facts.san.uri.includes(matcher.san_uri);
  if ('san_ip' in matcher) return facts.san.ip.includes(matcher.san_ip);
  if ('spiffe_id' in matcher) {
    const id = facts.spiffeId === undefined ? undefined : parseSpiffeId(facts.spiffeId);
    if (id === undefined) return false;
    let matches = spiffePatterns.get(matcher.spiffe_id);
    if (matches === undefined) {
      matches = compileSpiffePattern(matcher.spiffe_id);
      spiffePatterns.set(matcher.spiffe_id, matches);
    }
    return matches(id);
  }
  return facts.san.email.includes(matcher.san_email);
}

/** A short human description of a matcher, for errors and logs (no secrets in it). */
export function describeMatcher(matcher: CertificateMatcher): string {
  const [field, value] = Object.entries(matcher)[0] as [string, string];
  return `${field}=${value}`;
}
