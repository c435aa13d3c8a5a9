import { jwtVerify, type JWTHeaderParameters, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ACCESS_TOKEN_JWT_TYP, type AsymmetricAlgorithm } from './rfc.js';
import { fromJoseError } from './token-refusal.js';

/** What a token is checked against, besides its binding. */
export interface TokenExpectations {
  issuer: string[];
  audience: string[];
  algorithms: AsymmetricAlgorithm[];
  clockToleranceSeconds: number;
}

/** Claims every access token must have (RFC 9068 §2.2), besides iss and aud. */
export const REQUIRED_CLAIMS = ['exp', 'iat', 'sub'] as const;

/**
 * The JWS and registered claims checked by jose's jwtVerify (WebCrypto). The fast path
 * (core/verify.ts) verifies with node:crypto through fast-jwt and asks this one only to word a
 * refusal, so that every refusal reads the same whichever library found it; the tests also run
 * both over the whole adversarial corpus.
 * @throws CertboundError worded by core/token-refusal.ts.
 */
export async function verifyWithJose(
  token: string,
  keys: JWTVerifyGetKey,
  expected: TokenExpectations,
  nowMs: number,
): Promise<{ payload: JWTPayload; header: JWTHeaderParameters }> {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      issuer: expected.issuer,
      audience: expected.audience,
      algorithms: expected.algorithms,
      typ: ACCESS_TOKEN_JWT_TYP,
      clockTolerance: expected.clockToleranceSeconds,
      currentDate: new Date(nowMs),
      requiredClaims: [...REQUIRED_CLAIMS],
    });
    return { payload, header: protectedHeader };
  } catch (error) {
    throw fromJoseError(error);
  }
}
