import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { BEARER_SCHEME } from '../core/rfc.js';
import type { CertboundError } from '../core/errors.js';

type Response = ServerResponse | Http2ServerResponse;

/** Headers every token-bearing or error response carries (RFC 6749 §5.1). */
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/** Send a JSON body. The only place certbound writes a JSON response. */
export function sendJson(res: Response, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

/** A token response: JSON with no-store caching (RFC 6749 §5.1, RFC 8693 §2.2.1). */
export function sendTokenResponse(res: Response, body: Record<string, unknown>): void {
  sendJson(res, 200, body, NO_STORE);
}

/**
 * An OAuth error response from the STS (RFC 6749 §5.2): `{error, error_description}` with the
 * status from the error table. A 5xx never carries more than the error's bland description.
 */
export function sendOAuthError(
  res: Response,
  error: CertboundError,
  options: { headers?: Record<string, string>; oauthError?: string } = {},
): void {
  sendJson(res, error.outcome.http, errorBody(error, options.oauthError), { ...NO_STORE, ...retryAfter(error), ...options.headers });
}

/** The error's own Retry-After, when it has one (rate limits, load shedding, unavailable keys). */
function retryAfter(error: CertboundError): Record<string, string> {
  return error.retryAfterSeconds === undefined ? {} : { 'retry-after': String(error.retryAfterSeconds) };
}

/**
 * `{error, error_description}`: the table's OAuth error, or a plain word for HTTP-only failures.
 * A description may quote what the client sent (a grant_type, a parameter name), so it is cut to
 * the characters RFC 6749 §5.2 allows, the same way as in a challenge header.
 */
function errorBody(error: CertboundError, oauthError?: string): { error: string; error_description: string } {
  const { oauth, http } = error.outcome;
  return { error: oauthError ?? oauth ?? errorWordFor(http), error_description: quotable(error.description) };
}

export interface ChallengeOptions {
  /** RFC 6750 §3 realm, when the resource names one. */
  realm?: string;
  /** RFC 6750 §3 scope needed, sent with insufficient_scope. */
  scope?: string;
  /** RFC 9728 §5.1 `resource_metadata`: where the client finds this resource's metadata. */
  resourceMetadata?: string;
}

/**
 * A resource-server refusal (RFC 6750 §3, RFC 8705 §3): 401 (or 400/403/503 by the error table)
 * with a `WWW-Authenticate: Bearer` challenge, and the same error as JSON in the body.
 * A missing token gets a bare challenge with no error code, as RFC 6750 §3.1 asks.
 */
export function sendBearerChallenge(res: Response, error: CertboundError, options: ChallengeOptions = {}): void {
  const { status, headers, body } = bearerChallenge(error, options);
  sendJson(res, status, body, headers);
}

/**
 * The refusal sendBearerChallenge sends, as data: for frameworks that write responses their own
 * way (Fastify's reply). The one place a challenge is built.
 */
export function bearerChallenge(
  error: CertboundError,
  options: ChallengeOptions = {},
): { status: number; headers: Record<string, string>; body: { error: string; error_description: string } } {
  const { oauth, http } = error.outcome;
  const params: string[] = [];
  if (options.realm !== undefined) params.push(`realm="${quotable(options.realm)}"`);
  if (oauth !== null) {
    params.push(`error="${oauth}"`, `error_description="${quotable(error.description)}"`);
  }
  if (options.scope !== undefined) params.push(`scope="${quotable(options.scope)}"`);
  if (options.resourceMetadata !== undefined) params.push(`resource_metadata="${quotable(options.resourceMetadata)}"`);
  const headers: Record<string, string> = { ...NO_STORE, ...retryAfter(error) };
  if (http === 401 || http === 400 || http === 403) {
    headers['www-authenticate'] = params.length === 0 ? BEARER_SCHEME : `${BEARER_SCHEME} ${params.join(', ')}`;
  }
  return { status: http, headers, body: errorBody(error) };
}

/** RFC 6749 §5.2 / RFC 6750 §3: %x20-21 / %x23-5B / %x5D-7E; `"` and `\` become `'`, the rest `?`. */
function quotable(text: string): string {
  return text.replace(/["\\]/g, "'").replace(/[^\x20-\x7E]/g, '?');
}

function errorWordFor(status: number): string {
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status === 405) return 'method_not_allowed';
  if (status === 503) return 'temporarily_unavailable';
  return 'server_error';
}
