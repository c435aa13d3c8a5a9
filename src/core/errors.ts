/**
 * One error class, a closed set of codes, and one table from code to what each transport says.
 * Adapters render the table; they never invent statuses or OAuth error strings of their own.
 */

/** gRPC status codes (grpc/status.proto), kept numeric so the core needs no gRPC import. */
export const GrpcStatus = {
  INVALID_ARGUMENT: 3,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

interface Outcome {
  /** RFC 6749 §5.2 / RFC 6750 §3.1 / RFC 8693 §2.2.2 error code, or null when none applies. */
  readonly oauth: string | null;
  readonly http: number;
  readonly grpc: number;
}

const outcome = (oauth: string | null, http: number, grpc: number): Outcome => ({ oauth, http, grpc });
const { INVALID_ARGUMENT, PERMISSION_DENIED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE, UNAUTHENTICATED } = GrpcStatus;

/** code → transport outcome. Documented in docs/errors.md; keep the two in step. */
export const ERROR_OUTCOMES = {
  // Resource side: presenting a bound token (RFC 6750 §3.1, RFC 8705 §3).
  CB_TOKEN_MISSING: outcome(null, 401, UNAUTHENTICATED),
  CB_AUTHORIZATION_MALFORMED: outcome('invalid_request', 400, UNAUTHENTICATED),
  CB_TOKEN_MALFORMED: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_TOKEN_ALG_NOT_ALLOWED: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_TOKEN_KEY_UNKNOWN: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_TOKEN_SIGNATURE_INVALID: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_TOKEN_TYPE_INVALID: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_TOKEN_ISSUER_INVALID: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_TOKEN_AUDIENCE_INVALID: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_TOKEN_EXPIRED: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_TOKEN_NOT_YET_VALID: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_TOKEN_CLAIM_INVALID: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_CNF_MISSING: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_CNF_MALFORMED: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_CNF_MISMATCH: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_CLIENT_CERT_MISSING: outcome('invalid_token', 401, UNAUTHENTICATED),
  CB_CLIENT_CERT_UNTRUSTED: outcome('invalid_token', 401, UNAUTHENTICATED),
  // Behind a TLS-terminating proxy: a certificate header from a peer that is not a trusted
  // proxy is a forgery attempt, and one a trusted proxy garbled cannot be used.
  CB_FORWARDED_CERT_UNTRUSTED: outcome('invalid_request', 400, UNAUTHENTICATED),
  CB_FORWARDED_CERT_MALFORMED: outcome('invalid_request', 400, UNAUTHENTICATED),
  CB_SCOPE_INSUFFICIENT: outcome('insufficient_scope', 403, PERMISSION_DENIED),
  // Gateway rules: no rule allows this method and path (RFC 6750 has no error code for it).
  CB_ACCESS_DENIED: outcome(null, 403, PERMISSION_DENIED),
  CB_JWKS_UNAVAILABLE: outcome(null, 503, UNAVAILABLE),

  // STS side: the token endpoint (RFC 6749 §5.2, RFC 8693 §2.2.2).
  CB_REQUEST_INVALID: outcome('invalid_request', 400, INVALID_ARGUMENT),
  CB_REQUEST_TOO_LARGE: outcome('invalid_request', 413, INVALID_ARGUMENT),
  CB_CONTENT_TYPE_UNSUPPORTED: outcome('invalid_request', 415, INVALID_ARGUMENT),
  CB_TOKEN_TYPE_UNSUPPORTED: outcome('invalid_request', 400, INVALID_ARGUMENT),
  CB_CLIENT_UNAUTHENTICATED: outcome('invalid_client', 401, UNAUTHENTICATED),
  CB_CLIENT_NOT_REGISTERED: outcome('invalid_client', 401, UNAUTHENTICATED),
  // RFC 8705 §2: a client_id names the registration the certificate must satisfy.
  CB_CLIENT_ID_MISMATCH: outcome('invalid_client', 401, UNAUTHENTICATED),
  CB_CLIENT_ID_REQUIRED: outcome('invalid_client', 401, UNAUTHENTICATED),
  CB_CLIENT_GRANT_NOT_ALLOWED: outcome('unauthorized_client', 400, PERMISSION_DENIED),
  // RFC 7662 §2.3: a caller not allowed to introspect is refused as an unauthenticated client.
  CB_INTROSPECTION_NOT_ALLOWED: outcome('invalid_client', 401, PERMISSION_DENIED),
  CB_GRANT_TYPE_UNSUPPORTED: outcome('unsupported_grant_type', 400, INVALID_ARGUMENT),
  // RFC 8693 §2.2.2: an invalid subject token, or one refused by policy, MUST be invalid_request.
  // (The STS option subjectTokenError can say invalid_grant for clients built to RFC 6749 habits.)
  CB_SUBJECT_TOKEN_INVALID: outcome('invalid_request', 400, UNAUTHENTICATED),
  CB_SUBJECT_TOKEN_NOT_FOR_CLIENT: outcome('invalid_request', 400, PERMISSION_DENIED),
  // A subject or actor token bound (cnf) to another certificate, or by a method certbound cannot
  // check: exchanging it would launder a stolen bound token into one bound to the thief.
  CB_SUBJECT_TOKEN_CNF_MISMATCH: outcome('invalid_request', 400, PERMISSION_DENIED),
  CB_SUBJECT_TOKEN_CNF_UNSUPPORTED: outcome('invalid_request', 400, PERMISSION_DENIED),
  // RFC 8693 §2.2.2: an actor_token unacceptable by policy is invalid_request too.
  CB_ACTOR_NOT_ALLOWED: outcome('invalid_request', 400, PERMISSION_DENIED),
  CB_SCOPE_NOT_ALLOWED: outcome('invalid_scope', 400, PERMISSION_DENIED),
  CB_TARGET_NOT_ALLOWED: outcome('invalid_target', 400, PERMISSION_DENIED),
  // Limits: one client certificate asking too often (429), or the whole server over its
  // in-flight threshold (503). Both carry Retry-After; RFC 6749 has no token-endpoint error for
  // either, so they use temporarily_unavailable, which clients already treat as "retry later".
  CB_RATE_LIMITED: outcome('temporarily_unavailable', 429, RESOURCE_EXHAUSTED),
  CB_OVERLOADED: outcome('temporarily_unavailable', 503, UNAVAILABLE),

  // Client side: talking to the STS.
  CB_STS_REFUSED: outcome(null, 401, UNAUTHENTICATED),
  CB_STS_UNAVAILABLE: outcome(null, 503, UNAVAILABLE),
  CB_SUBJECT_TOKEN_UNREADABLE: outcome(null, 401, UNAUTHENTICATED),

  // Plain HTTP routing, and the catch-all whose description is always bland.
  CB_NOT_FOUND: outcome(null, 404, INVALID_ARGUMENT),
  CB_METHOD_NOT_ALLOWED: outcome(null, 405, INVALID_ARGUMENT),
  CB_INTERNAL: outcome('server_error', 500, INTERNAL),
} as const satisfies Record<string, Outcome>;

export type CertboundErrorCode = keyof typeof ERROR_OUTCOMES;

const BRAND = Symbol.for('certbound.error');

/** Why a verification failed, for callers that want more than the code (jose's `claim`/`reason`). */
export type FailureReason = 'missing' | 'malformed' | 'mismatch' | 'expired' | 'not_yet_valid' | 'not_allowed' | 'unknown';

export interface CertboundErrorOptions {
  /** Safe to send to the peer. Never contains a token, key or PEM body. */
  description: string;
  /** For logs only: may name thumbprints (public) but never secrets. */
  detail?: string;
  reason?: FailureReason;
  /** The OAuth `error` a remote party answered with (client-side errors only). */
  remoteError?: string;
  /** Whole seconds after which a retry may succeed: rendered as `Retry-After` (RFC 9110 §10.2.3). */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/**
 * The one error type certbound throws for bad input at runtime. Match on `code`, not on the
 * message or the class: `instanceof` is branded so it also works across duplicate installs.
 */
export class CertboundError<Code extends CertboundErrorCode = CertboundErrorCode> extends Error {
  readonly code: Code;
  readonly description: string;
  readonly detail: string | undefined;
  readonly reason: FailureReason | undefined;
  readonly remoteError: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: Code, options: CertboundErrorOptions) {
    super(options.description, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CertboundError';
    this.code = code;
    this.description = options.description;
    this.detail = options.detail;
    this.reason = options.reason;
    this.remoteError = options.remoteError;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get outcome(): Outcome {
    return ERROR_OUTCOMES[this.code];
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
Object.defineProperty(CertboundError.prototype, BRAND, { value: true });

/**
 * A CertboundError whose `code` narrows its type: `switch (error.code)` on an AnyCertboundError
 * is exhaustive over the closed set of codes.
 */
export type AnyCertboundError = { [Code in CertboundErrorCode]: CertboundError<Code> }[CertboundErrorCode];

/** Any thrown value as a CertboundError; unknown failures become a bland CB_INTERNAL. */
export function toCertboundError(error: unknown): CertboundError {
  if (error instanceof CertboundError) return error;
  return new CertboundError('CB_INTERNAL', {
    description: 'internal error',
    detail: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    cause: error,
  });
}

export function isCertboundError(value: unknown): value is AnyCertboundError {
  return value instanceof CertboundError;
}

// Misuse has a class and code of its own; `certbound/errors` is where a caller looks for both.
export { ConfigError, FileProblem } from './config-error.js';
