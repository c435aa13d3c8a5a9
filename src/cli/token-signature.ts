import { jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ASYMMETRIC_ALGORITHMS } from '../core/rfc.js';
import { fromJoseError, guardKeyResolution } from '../core/token-refusal.js';
import { DEFAULTS } from '../defaults.js';

export interface SignatureExpectations {
  issuer?: string;
  audience?: string;
}

/**
 * Check a token's signature against the issuer's keys, its exp and nbf, and its iss and aud when
 * they are given, with jose as resource servers do (asymmetric algorithms only, their clock
 * tolerance). Unlike a resource it does not insist on iss and aud, so that a token can be checked
 * before its audience is known.
 * @throws CertboundError worded as a resource words the refusal (core/token-refusal.ts).
 */
export async function checkTokenSignature(token: string, keys: JWTVerifyGetKey, expected: SignatureExpectations): Promise<void> {
  try {
    await jwtVerify(token, guardKeyResolution(keys), {
      algorithms: [...ASYMMETRIC_ALGORITHMS],
      clockTolerance: DEFAULTS.verification.clockToleranceSeconds,
      ...(expected.issuer === undefined ? {} : { issuer: expected.issuer }),
      ...(expected.audience === undefined ? {} : { audience: expected.audience }),
    });
  } catch (error) {
    throw fromJoseError(error);
  }
}
