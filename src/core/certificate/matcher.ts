import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../../defaults.js';
import { compileSpiffePattern, parseSpiffeId } from '../spiffe.js';
import type { CertificateFacts } from './facts.js';

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

// Compiled once per pattern; bounded, since a policy reload brings new patterns.
const spiffePatterns = new LRUCache<string, ReturnType<typeof compileSpiffePattern>>({ max: DEFAULTS.verification.spiffePatternEntries });

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
