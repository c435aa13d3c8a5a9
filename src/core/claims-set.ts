import { errors, type JWTPayload } from 'jose';

export interface ClaimsSetExpectations {
  /** Accepted `iss` values (one must match exactly). */
  issuer: readonly string[];
  /** Accepted audiences: `aud` (a string or a list) must contain one. */
  audience: readonly string[];
  /** Claims that must be present besides iss and aud. */
  requiredClaims: readonly string[];
  clockToleranceSeconds: number;
  /** Seconds since the epoch. */
  now: number;
}

/**
 * The registered claims of an access token (RFC 7519 §4.1), checked as jose's jwtVerify checks
 * them and failing with jose's own errors, so that one mapping (core/jose-errors.ts) words every
 * refusal: presence (iss, aud, then the required claims), iss, aud, then iat, nbf and exp as
 * numbers and against the clock with the tolerance. What RFC 9068 adds (sub, whole seconds) and
 * the binding are checked by the verifier after this.
 * @throws errors.JWTClaimValidationFailed or errors.JWTExpired
 */
export function checkClaimsSet(payload: JWTPayload, expected: ClaimsSetExpectations): void {
  for (const claim of ['iss', 'aud', ...[...expected.requiredClaims].reverse()]) {
    if (!Object.hasOwn(payload, claim))
      throw new errors.JWTClaimValidationFailed(`missing required "${claim}" claim`, payload, claim, 'missing');
  }
  if (!expected.issuer.includes(payload.iss as string)) {
    throw new errors.JWTClaimValidationFailed('unexpected "iss" claim value', payload, 'iss', 'check_failed');
  }
  const audiences = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
  if (!audiences.some((aud) => expected.audience.includes(aud))) {
    throw new errors.JWTClaimValidationFailed('unexpected "aud" claim value', payload, 'aud', 'check_failed');
  }
  const { now, clockToleranceSeconds: tolerance } = expected;
  if (payload.iat !== undefined && typeof payload.iat !== 'number') {
    throw new errors.JWTClaimValidationFailed('"iat" claim must be a number', payload, 'iat', 'invalid');
  }
  if (payload.nbf !== undefined) {
    if (typeof payload.nbf !== 'number')
      throw new errors.JWTClaimValidationFailed('"nbf" claim must be a number', payload, 'nbf', 'invalid');
    if (payload.nbf > now + tolerance)
      throw new errors.JWTClaimValidationFailed('"nbf" claim timestamp check failed', payload, 'nbf', 'check_failed');
  }
  if (payload.exp !== undefined) {
    if (typeof payload.exp !== 'number')
      throw new errors.JWTClaimValidationFailed('"exp" claim must be a number', payload, 'exp', 'invalid');
    if (payload.exp <= now - tolerance) throw new errors.JWTExpired('"exp" claim timestamp check failed', payload, 'exp', 'check_failed');
  }
}
