import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { malformedNumericDate } from './numeric-date.js';
import { ACCESS_TOKEN_JWT_TYP, ASYMMETRIC_ALGORITHMS } from './rfc.js';

export interface IntrospectionInput {
  /**
   * The STS's own published keys: only tokens this STS issued can be active. A resolver (jose's
   * createLocalJWKSet) keeps imported keys between calls; a key set is imported on every call.
   */
  keys: JSONWebKeySet | JWTVerifyGetKey;
  issuer: string;
  /** Milliseconds since the epoch. */
  now: number;
  /** When set, a token is active for this caller only if its `aud` names one of these. */
  audiences?: readonly string[];
}

/**
 * RFC 7662 §2.2 response for a token this STS issued: `active` with the token's claims, `cnf`
 * included (RFC 8705 §3.2), so a resource server that cannot verify JWTs can still check the
 * binding. Anything that fails verification (expired, unknown key, malformed, foreign issuer,
 * another audience) is just `{ active: false }`: the caller learns nothing more (§2.2).
 */
export async function introspectAccessToken(token: string, input: IntrospectionInput): Promise<Record<string, unknown>> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, typeof input.keys === 'function' ? input.keys : createLocalJWKSet(input.keys), {
      issuer: input.issuer,
      typ: ACCESS_TOKEN_JWT_TYP,
      algorithms: [...ASYMMETRIC_ALGORITHMS],
      currentDate: new Date(input.now),
      requiredClaims: ['exp', 'iat', 'sub'],
    }));
  } catch {
    return { active: false };
  }
  if (malformedNumericDate(payload) !== undefined) return { active: false };
  if (input.audiences !== undefined) {
    const aud = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    if (!aud.some((value) => input.audiences?.includes(value))) return { active: false };
  }
  // Claims first: a claim named active or token_type (copied from an IdP) must not override these.
  return { ...payload, active: true, token_type: 'Bearer' };
}
