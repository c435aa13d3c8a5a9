import { createPublicKey, KeyObject, webcrypto } from 'node:crypto';
import { createVerifier } from 'fast-jwt';
import type { JWK, JWTHeaderParameters, JWTPayload } from 'jose';
import { ACCESS_TOKEN_JWT_TYP } from './rfc.js';
import type { AsymmetricAlgorithm } from './rfc.js';

/** A compact JWS whose signature, algorithm, `typ` and `crit` were checked; its claims are not yet. */
export interface SignedToken {
  header: JWTHeaderParameters;
  payload: JWTPayload;
}

type SignatureCheck = (token: string) => SignedToken;

/** A key as a jose key resolver returns it: WebCrypto, node:crypto, or a JWK. */
export type ResolvedKey = webcrypto.CryptoKey | KeyObject | JWK | Uint8Array;

/**
 * One fast-jwt verifier per key and algorithm, made the first time the key signs a token: the
 * key is parsed once, and each token then costs one synchronous node:crypto verify. Keyed by the
 * key object the resolver returns (jose's key sets return the same object for the same JWK), so
 * keys that leave the JWKS are collected with it.
 */
const checks = new WeakMap<object, Map<string, SignatureCheck>>();

/**
 * Check a compact JWS (RFC 7515 §7.1) against `key` for `alg` with fast-jwt: base64url segments,
 * a JSON object header and payload, the signature, `typ` at+jwt (RFC 9068 §4) and no `crit`
 * extension. Claims are left to the caller.
 * @throws fast-jwt's TokenError (FAST_JWT_* codes; the caller asks jose to word the refusal), or
 * a TypeError for a key that cannot verify `alg`.
 */
export function checkSignature(token: string, key: ResolvedKey, alg: AsymmetricAlgorithm): SignedToken {
  return signatureCheckFor(key, alg)(token);
}

function signatureCheckFor(key: ResolvedKey, alg: AsymmetricAlgorithm): SignatureCheck {
  let byAlgorithm = checks.get(key);
  if (byAlgorithm === undefined) {
    byAlgorithm = new Map();
    checks.set(key, byAlgorithm);
  }
  let check = byAlgorithm.get(alg);
  if (check === undefined) {
    const verify = createVerifier({
      key: publicKeyPem(key),
      algorithms: [alg],
      complete: true,
      checkTyp: ACCESS_TOKEN_JWT_TYP,
      // Times are checked by the caller, on its own clock (core/claims-set.ts).
      ignoreExpiration: true,
      ignoreNotBefore: true,
      // certbound has its own verification cache (core/verification-cache.ts), keyed by certificate too.
      cache: false,
    });
    check = (token) => verify(token) as SignedToken;
    byAlgorithm.set(alg, check);
  }
  return check;
}

function publicKeyPem(key: ResolvedKey): string {
  let object: KeyObject;
  if (key instanceof KeyObject) object = key;
  else if (key instanceof Uint8Array) throw new TypeError('a symmetric key cannot verify an asymmetric JWS algorithm');
  else if (isCryptoKey(key)) object = KeyObject.from(key);
  else object = createPublicKey({ key, format: 'jwk' });
  if (object.type === 'secret') throw new TypeError('a symmetric key cannot verify an asymmetric JWS algorithm');
  return (object.type === 'private' ? createPublicKey(object) : object).export({ type: 'spki', format: 'pem' }) as string;
}

/** WebCrypto's CryptoKey is a global (Node >= 17), not an export of node:crypto. */
const CRYPTO_KEY = (globalThis as { CryptoKey?: abstract new () => webcrypto.CryptoKey }).CryptoKey;

function isCryptoKey(key: object): key is webcrypto.CryptoKey {
  return CRYPTO_KEY !== undefined && key instanceof CRYPTO_KEY;
}
