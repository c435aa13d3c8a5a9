import { isUtf8 } from 'node:buffer';
import { decodeProtectedHeader, errors, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { checkClaimsSet } from './claims-set.js';
import { CertboundError } from './errors.js';
import { REQUIRED_CLAIMS, verifyWithJose, type TokenExpectations } from './jose-verify.js';
import { checkSignature, type ResolvedKey } from './jws-signature.js';
import type { AsymmetricAlgorithm } from './rfc.js';
import { fromJoseError, guardKeyResolution } from './token-refusal.js';
import type { ResolvedVerifierOptions } from './verifier-options.js';

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** A token's JWS and registered claims checked; its binding and RFC 9068 claims not yet. */
export type JwsVerification = (token: string) => Promise<{ payload: JWTPayload; header: JWTHeaderParameters }>;

/**
 * The verification every resource runs: the header read by jose, the key resolved per kid, the
 * signature checked synchronously by fast-jwt on node:crypto (jose's WebCrypto verify runs at
 * about half node:crypto's rate), the claims as jose checks them. Whatever it does not accept,
 * and a header feature it leaves to jose (crit), is decided by jose, which words the refusal;
 * should jose accept what the fast path refused, the token is refused all the same. A bad
 * signature over a well-formed JWS is the one refusal made without jose.
 */
export function createFastJwsVerification(resolved: ResolvedVerifierOptions): JwsVerification {
  const getKey = guardKeyResolution(resolved.keys);
  const now = resolved.now;

  const expected: TokenExpectations = resolved;
  return async (token) => {
    const nowMs = now();
    let header: JWTHeaderParameters;
    try {
      header = decodeProtectedHeader(token) as JWTHeaderParameters;
    } catch {
      return verifyWithJose(token, getKey, expected, nowMs);
    }
    const alg = header.alg as AsymmetricAlgorithm;
    if (!resolved.algorithms.includes(alg) || header.crit !== undefined) return verifyWithJose(token, getKey, expected, nowMs);
    const [protectedPart = '', payloadPart = '', signaturePart = ''] = token.split('.');
    let key;
    try {
      key = await getKey(header, { protected: protectedPart, payload: payloadPart, signature: signaturePart });
    } catch (error) {
      throw fromJoseError(error);
    }
    let signed;
    try {
      signed = checkSignature(token, key as ResolvedKey, alg);
      // RFC 7519 §7.2 step 10: the claims set must be UTF-8; fast-jwt would read it with replacements.
      if (!isUtf8(Buffer.from(payloadPart, 'base64url'))) throw new TypeError('claims set is not UTF-8');
    } catch (error) {
      // A bad signature is what a flood of forged tokens brings: refused here, without a second
      // verification. jose checks the signature first too, so its verdict would be the same.
      // (A signature segment that is not base64url is jose's to word: it is not a JWS at all.)
      if ((error as { code?: unknown }).code === 'FAST_JWT_INVALID_SIGNATURE' && BASE64URL.test(signaturePart)) {
        throw fromJoseError(new errors.JWSSignatureVerificationFailed());
      }
      await verifyWithJose(token, getKey, expected, nowMs);
      throw new CertboundError('CB_TOKEN_MALFORMED', { description: 'token could not be verified', reason: 'malformed' });
    }
    try {
      checkClaimsSet(signed.payload, { ...expected, requiredClaims: REQUIRED_CLAIMS, now: Math.floor(nowMs / 1000) });
    } catch (error) {
      throw fromJoseError(error);
    }
    return signed;
  };
}
