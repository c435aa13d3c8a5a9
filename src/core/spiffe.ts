import { misuse } from './config-error.js';

/**
 * SPIFFE IDs (spiffe://trust-domain/path) and the patterns policy matches them with. Pure text
 * rules from the SPIFFE-ID specification §2; no certificate parsing here.
 * @see https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md
 */

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const MAX_LENGTH = 2048;

export interface SpiffeId {
  trustDomain: string;
  /** Path segments; never empty strings, never `.` or `..`. */
  segments: string[];
}

/** A SPIFFE ID, or undefined when `text` is not one (wrong scheme, port, query, bad segment...). */
export function parseSpiffeId(text: string): SpiffeId | undefined {
  if (text.length > MAX_LENGTH || !text.startsWith('spiffe://')) return undefined;
  const rest = text.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  if (!TRUST_DOMAIN.test(trustDomain)) return undefined;
  if (slash === -1) return { trustDomain, segments: [] };
  const segments = rest.slice(slash + 1).split('/');
  if (segments.some((segment) => !SEGMENT.test(segment) || segment === '.' || segment === '..')) return undefined;
  return { trustDomain, segments };
}

/**
 * A pattern over SPIFFE IDs: `spiffe://domain.com/ns/*\/sa/billing` where `*` is exactly one path
 * segment, and a final `**` is one or more segments. The trust domain is always literal.
 * @throws ConfigError when the pattern is not a SPIFFE ID with wildcards.
 */
export function compileSpiffePattern(pattern: string): (id: SpiffeId) => boolean {
  const authority = pattern.startsWith('spiffe://') ? (pattern.slice('spiffe://'.length).split('/', 1)[0] ?? '') : '';
  if (authority.includes('*')) throw misuse(`the trust domain of a SPIFFE ID pattern is literal: ${JSON.stringify(pattern)}`);
  const literal = pattern.replace(/\*\*$/, 'x').replace(/\*/g, 'x');
  const shape = parseSpiffeId(literal);
  if (shape === undefined)
    throw misuse(
      `not a SPIFFE ID pattern (spiffe://trust-domain/path, * for one segment, final ** for the rest): ${JSON.stringify(pattern)}`,
    );
  const path = pattern.slice(`spiffe://${shape.trustDomain}`.length);
  const parts = path === '' ? [] : path.slice(1).split('/');
  if (parts.slice(0, -1).includes('**') || parts.some((part) => part.includes('*') && part !== '*' && part !== '**')) {
    throw misuse(`"*" must be a whole segment and "**" only the last: ${JSON.stringify(pattern)}`);
  }
  const rest = parts.at(-1) === '**';
  const fixed = rest ? parts.slice(0, -1) : parts;
  return (id) => {
    if (id.trustDomain !== shape.trustDomain) return false;
    if (rest ? id.segments.length <= fixed.length : id.segments.length !== fixed.length) return false;
    return fixed.every((part, i) => part === '*' || part === id.segments[i]);
  };
}

export function formatSpiffeId(id: SpiffeId): string {
  return `spiffe://${id.trustDomain}${id.segments.map((segment) => `/${segment}`).join('')}`;
}
