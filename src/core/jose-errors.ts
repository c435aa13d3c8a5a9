/**
 * What went wrong in a jose verification, read from jose's stable error codes: the one place
 * certbound interprets jose's errors. Each verifier words the verdict for its audience (a
 * resource's invalid_token, an STS's refused subject token).
 */
export type JoseVerdict =
  /** ERR_JWT_EXPIRED: `exp` has passed, or (claim `iat`) the token is older than its maximum age. */
  | { kind: 'expired'; claim: string }
  /** ERR_JWT_CLAIM_VALIDATION_FAILED: a claim (or the `typ` header) is missing, of the wrong type or not accepted. */
  | { kind: 'claim'; claim: string; reason: 'missing' | 'invalid' | 'check_failed' | 'unspecified' }
  | { kind: 'algorithm' }
  | { kind: 'unknown_key'; multiple: boolean }
  | { kind: 'signature' }
  /** Not a compact JWS, a payload that is not a JWT claims set, or a JOSE feature jose does not support. */
  | { kind: 'malformed'; what: 'jws' | 'jwt' | 'unsupported' }
  /** The keys could not be had: a resolver that failed, a fetch that timed out, a key that cannot be imported. */
  | { kind: 'keys_unavailable' }
  | { kind: 'other'; message: string | undefined };

const SIMPLE: Readonly<Record<string, JoseVerdict>> = {
  ERR_JOSE_ALG_NOT_ALLOWED: { kind: 'algorithm' },
  ERR_JWKS_NO_MATCHING_KEY: { kind: 'unknown_key', multiple: false },
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: { kind: 'unknown_key', multiple: true },
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: { kind: 'signature' },
  ERR_JWS_INVALID: { kind: 'malformed', what: 'jws' },
  ERR_JWT_INVALID: { kind: 'malformed', what: 'jwt' },
  ERR_JOSE_NOT_SUPPORTED: { kind: 'malformed', what: 'unsupported' },
  ERR_JWKS_TIMEOUT: { kind: 'keys_unavailable' },
  ERR_JOSE_GENERIC: { kind: 'keys_unavailable' },
  CB_JWKS_UNAVAILABLE: { kind: 'keys_unavailable' },
};

export function classifyJoseError(error: unknown): JoseVerdict {
  const { code, claim, reason, message } = (error ?? {}) as { code?: unknown; claim?: unknown; reason?: unknown; message?: unknown };
  if (code === 'ERR_JWT_EXPIRED') return { kind: 'expired', claim: typeof claim === 'string' ? claim : 'exp' };
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    const known = reason === 'missing' || reason === 'invalid' || reason === 'check_failed' ? reason : 'unspecified';
    return { kind: 'claim', claim: typeof claim === 'string' ? claim : '', reason: known };
  }
  const simple = typeof code === 'string' ? SIMPLE[code] : undefined;
  if (simple !== undefined) return simple;
  // jose throws TypeError for key material it cannot use: the keys' fault, not the token's.
  if (error instanceof TypeError) return { kind: 'keys_unavailable' };
  return { kind: 'other', message: typeof message === 'string' ? message : undefined };
}
