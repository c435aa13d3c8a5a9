import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import type { AccessTokenClaims } from './claims.js';
import { ACCESS_TOKEN_JWT_TYP, type AsymmetricAlgorithm } from './rfc.js';

export interface SigningKey {
  alg: AsymmetricAlgorithm;
  kid: string;
  privateKey: KeyObject;
  /** Public JWK with kid, alg and use, as published in the JWKS. */
  publicJwk: JWK;
}

export interface SigningKeyInput {
  /** PKCS#8 / SEC1 / PKCS#1 PEM, or a KeyObject. */
  privateKey: string | Buffer | KeyObject;
  /** Key id; defaults to the RFC 7638 JWK thumbprint of the public key. */
  kid?: string;
  /** Only to choose PS256 (or a larger hash) for an RSA key; otherwise selected by the key type. */
  alg?: AsymmetricAlgorithm;
}

const EC_ALGORITHMS: Record<string, AsymmetricAlgorithm> = { 'prime256v1': 'ES256', 'secp384r1': 'ES384', 'secp521r1': 'ES512' };

/** The JWS algorithm a key can sign with: the key type decides, an RSA key may ask for PS*. */
export function algorithmForKey(key: KeyObject, requested?: AsymmetricAlgorithm): AsymmetricAlgorithm {
  const type = key.asymmetricKeyType;
  let natural: AsymmetricAlgorithm[];
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    const alg = EC_ALGORITHMS[curve];
    if (alg === undefined) throw new TypeError(`EC signing keys must use P-256, P-384 or P-521 (got ${curve || 'unknown curve'})`);
    natural = [alg];
  } else if (type === 'rsa') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new TypeError('RSA signing keys must be at least 2048 bits');
    natural = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
  } else if (type === 'ed25519') {
    natural = ['EdDSA'];
  } else {
    throw new TypeError(`unsupported signing key type ${type ?? 'unknown'} (use EC P-256/384/521, RSA or Ed25519)`);
  }
  if (requested === undefined) return natural[0] as AsymmetricAlgorithm;
  if (!natural.includes(requested)) throw new TypeError(`algorithm ${requested} does not fit a ${type} key`);
  return requested;
}

/**
 * Import a signing key once, at start-up: choose its algorithm, derive its kid and public JWK.
 * @throws TypeError when the key is not a usable private key.
 */
export async function createSigningKey(input: SigningKeyInput): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = typeof input.privateKey === 'object' && 'asymmetricKeyType' in input.privateKey ? input.privateKey : createPrivateKey(input.privateKey as string | Buffer);
  } catch (cause) {
    throw new TypeError('signing key is not a readable private key (PEM)', { cause });
  }
  if (privateKey.type !== 'private') throw new TypeError('signing key must be a private key');
  const alg = algorithmForKey(privateKey, input.alg);
  const jwk = await exportJWK(createPublicKey(privateKey));
  const kid = input.kid ?? (await calculateJwkThumbprint(jwk, 'sha256'));
  return { alg, kid, privateKey, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

type Signer = (claims: AccessTokenClaims) => string;

/** One signer per key, built on first use: the key is parsed once, not per token. */
const signers = new WeakMap<SigningKey, Signer>();

/**
 * Sign access-token claims as an RFC 9068 JWT: header `typ: at+jwt` and the key's `kid`.
 * Signing uses fast-jwt, which signs with node:crypto synchronously: jose 6 goes through
 * WebCrypto, whose per-call overhead was most of the STS's CPU time (docs/benchmarks.md).
 * Tokens are verified with jose, so the two libraries check each other in every test.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.1
 */
export async function signAccessToken(claims: AccessTokenClaims, key: SigningKey): Promise<string> {
  let signer = signers.get(key);
  if (signer === undefined) {
    signer = createSigner({
      key: key.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
      algorithm: key.alg,
      kid: key.kid,
      header: { alg: key.alg, typ: ACCESS_TOKEN_JWT_TYP },
      // iat and exp come with the claims (one clock reading per request); fast-jwt keeps a
      // given iat and, without expiresIn, the given exp.
    }) as Signer;
    signers.set(key, signer);
  }
  return signer(claims);
}
