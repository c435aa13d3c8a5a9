import { MIMEType } from 'node:util';
import jsonc from 'jsonc-parser';
import { CertboundError } from './errors.js';
import { MEDIA_TYPE_FORM, MEDIA_TYPE_JSON } from './rfc.js';
import { DEFAULTS } from '../defaults.js';

/** Parameters that RFC 8693 §2.1 allows to repeat; every other one must appear at most once. */
const REPEATABLE = new Set(['audience', 'resource']);
/** More distinct parameters than any grant defines is an attack, not a request. */
export const MAX_PARAMETERS = DEFAULTS.sts.maxParameters;

/** A token request's parameters, each name mapped to its values in order. */
export class TokenRequestParameters {
  constructor(private readonly values: ReadonlyMap<string, readonly string[]>) {}

  /** A parameter that must be present exactly once. */
  required(name: string): string {
    const value = this.optional(name);
    if (value === undefined) throw invalid(`missing required parameter ${name}`);
    return value;
  }

  /** A parameter that may be absent but never repeated. Empty values count as absent (RFC 6749 §3.1). */
  optional(name: string): string | undefined {
    const list = this.values.get(name);
    if (list === undefined) return undefined;
    if (list.length > 1) throw invalid(`parameter ${name} must not be repeated`);
    return list[0] === '' ? undefined : list[0];
  }

  /** A repeatable parameter's non-empty values. */
  list(name: string): string[] {
    return (this.values.get(name) ?? []).filter((value) => value !== '');
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  names(): string[] {
    return [...this.values.keys()];
  }
}

/**
 * Parse a token request body: `application/x-www-form-urlencoded` (RFC 6749 §3.2) or
 * `application/json` (whose values are strings, or arrays of strings for audience/resource).
 * @throws CertboundError CB_CONTENT_TYPE_UNSUPPORTED or CB_REQUEST_INVALID.
 */
export function parseTokenRequest(contentType: string | undefined, body: Uint8Array): TokenRequestParameters {
  const mediaType = parseMediaType(contentType);
  const text = decodeUtf8(body);
  const values = mediaType === MEDIA_TYPE_FORM ? parseForm(text) : parseJson(text);
  if (values.size > MAX_PARAMETERS) throw invalid(`too many parameters (at most ${MAX_PARAMETERS})`);
  for (const [name, list] of values) {
    if (list.length > 1 && !REPEATABLE.has(name)) throw invalid(`parameter ${name} must not be repeated`);
  }
  return new TokenRequestParameters(values);
}

function parseMediaType(contentType: string | undefined): string {
  let mime: MIMEType;
  try {
    mime = new MIMEType(contentType ?? '');
  } catch {
    throw unsupportedType();
  }
  const essence = mime.essence;
  if (essence !== MEDIA_TYPE_FORM && essence !== MEDIA_TYPE_JSON) throw unsupportedType();
  const charset = mime.params.get('charset');
  if (charset !== null && charset.toLowerCase() !== 'utf-8') throw invalid('only the UTF-8 charset is accepted');
  return essence;
}

function decodeUtf8(body: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body);
  } catch {
    throw invalid('request body is not valid UTF-8');
  }
}

function parseForm(text: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  let count = 0;
  for (const [name, value] of new URLSearchParams(text)) {
    if (++count > MAX_PARAMETERS * 4) throw invalid('too many parameters');
    const list = values.get(name);
    if (list === undefined) values.set(name, [value]);
    else list.push(value);
  }
  return values;
}

function parseJson(text: string): Map<string, string[]> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw invalid('request body is not valid JSON');
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw invalid('JSON request body must be an object');
  }
  const values = new Map<string, string[]>();
  for (const [name, value] of Object.entries(document)) {
    if (typeof value === 'string') values.set(name, [value]);
    else if (REPEATABLE.has(name) && Array.isArray(value) && value.every((item) => typeof item === 'string'))
      values.set(name, value as string[]);
    else throw invalid(`parameter ${name} must be a string${REPEATABLE.has(name) ? ' or an array of strings' : ''}`);
  }
  const repeated = repeatedMember(text);
  if (repeated !== undefined) throw invalid(`parameter ${repeated} must not be repeated`);
  return values;
}

/**
 * JSON.parse keeps the last of two members with the same name, so `{"scope":"a","scope":"b"}`
 * would mean one thing here and perhaps another to a proxy that keeps the first. A repeated
 * member is refused, as a repeated form field is. jsonc-parser lists the members as written; it
 * runs only on a body already known to be a flat object, so its depth is bounded.
 */
function repeatedMember(text: string): string | undefined {
  const seen = new Set<string>();
  for (const member of jsonc.parseTree(text)?.children ?? []) {
    const name = member.children?.[0]?.value as string;
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

function invalid(description: string): CertboundError {
  return new CertboundError('CB_REQUEST_INVALID', { description, reason: 'malformed' });
}

function unsupportedType(): CertboundError {
  return new CertboundError('CB_CONTENT_TYPE_UNSUPPORTED', {
    description: `content type must be ${MEDIA_TYPE_FORM} or ${MEDIA_TYPE_JSON}`,
    reason: 'not_allowed',
  });
}
