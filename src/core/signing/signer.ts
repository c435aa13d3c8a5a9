import { constants, createPrivateKey, createPublicKey, sign, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import type { AsymmetricAlgorithm } from '../rfc.js';
import { ecdsaDerToJose } from './ecdsa.js';
import { misuse } from '../config-error.js';

/**
 * Whatever signs access tokens: a key in memory (`createSigningKey`) or one that never leaves a
 * hardware module (PKCS#11), which is handed the signing input and returns the signature.
 */
export interface Signer {
  alg: AsymmetricAlgorithm;
  kid: string;
  /** Public JWK with kid, alg and use, as published in the JWKS. */
  publicJwk: JWK;
  /**
   * Sign the JWS signing input (RFC 7515 §5.1 step 5: the ASCII bytes of `header.payload`).
   * Returns the signature exactly as the JWS carries it (RFC 7518 §3): ECDSA as raw `r || s`,
   * each the curve's size (not DER); RSASSA-PKCS1-v1_5; RSASSA-PSS with MGF1 and a salt as long
   * as the hash; Ed25519 (RFC 8037). Nothing checks the result: a wrong one makes a token that
   * does not verify.
   */
  sign(signingInput: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** A software signer, over a private key in this process. */
export type SigningKey = Signer & { privateKey: KeyObject };

export interface SigningKeyInput {
  /** PKCS#8 / SEC1 / PKCS#1 PEM, or a KeyObject. */
  privateKey: string | Buffer | KeyObject;
  /** Key id; defaults to the RFC 7638 JWK thumbprint of the public key. */
  kid?: string;
  /** Only to choose PS256 (or a larger hash) for an RSA key; otherwise selected by the key type. */
  alg?: AsymmetricAlgorithm;
}

const EC_ALGORITHMS: Record<string, AsymmetricAlgorithm> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

/** The JWS algorithm a key can sign with: the key type decides, an RSA key may ask for PS*. */
export function algorithmForKey(key: KeyObject, requested?: AsymmetricAlgorithm): AsymmetricAlgorithm {
  const type = key.asymmetricKeyType;
  let natural: AsymmetricAlgorithm[];
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    const alg = EC_ALGORITHMS[curve];
    if (alg === undefined) throw misuse(`EC signing keys must use P-256, P-384 or P-521 (got ${curve || 'unknown curve'})`);
    natural = [alg];
  } else if (type === 'rsa') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw misuse('RSA signing keys must be at least 2048 bits');
    natural = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
  } else if (type === 'ed25519') {
    natural = ['EdDSA'];
  } else {
    throw misuse(`unsupported signing key type ${type ?? 'unknown'} (use EC P-256/384/521, RSA or Ed25519)`);
  }
  if (requested === undefined) return natural[0] as AsymmetricAlgorithm;
  if (!natural.includes(requested)) throw misuse(`algorithm ${requested} does not fit a ${type} key`);
  return requested;
}

/**
 * Import a signing key once, at start-up: choose its algorithm, derive its kid and public JWK.
 * @throws ConfigError when the key is not a usable private key.
 */
export async function createSigningKey(input: SigningKeyInput): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey =
      typeof input.privateKey === 'object' && 'asymmetricKeyType' in input.privateKey
        ? input.privateKey
        : createPrivateKey(input.privateKey as string | Buffer);
  } catch (cause) {
    throw misuse('signing key is not a readable private key (PEM)', { cause });
  }
  if (privateKey.type !== 'private') throw misuse('signing key must be a private key');
  const alg = algorithmForKey(privateKey, input.alg);
  const jwk = await exportJWK(createPublicKey(privateKey));
  const kid = input.kid ?? (await calculateJwkThumbprint(jwk, 'sha256'));
  const signWith = softwareSign(alg, privateKey);
  return {
    alg,
    kid,
    privateKey,
    publicJwk: { ...jwk, kid, alg, use: 'sig' },
    sign(this: Partial<SigningKey> | undefined, signingInput: Uint8Array): Uint8Array {
      // A copy given another alg or key (`{ ...key, alg }`) would still sign as this key, under
      // a header that says otherwise: refuse at signing time, as fast-jwt did.
      if (this !== undefined && (this.alg !== alg || this.privateKey !== privateKey)) {
        throw misuse(`signing key changed after createSigningKey (made for ${alg}, asked for ${String(this.alg)}): create a new one`);
      }
      return signWith(signingInput);
    },
  };
}

/**
 * RFC 7518 §3 with node:crypto, synchronously. The digest name and key options are chosen once
 * per key, so a signature costs one `crypto.sign` call (plus, for ECDSA, `ecdsaDerToJose`).
 */
function softwareSign(alg: AsymmetricAlgorithm, key: KeyObject): (signingInput: Uint8Array) => Uint8Array {
  if (alg === 'EdDSA') return (signingInput) => sign(null, signingInput, key);
  const digest = `sha${alg.slice(2)}`;
  if (alg === 'ES256' || alg === 'ES384' || alg === 'ES512') {
    return (signingInput) => ecdsaDerToJose(sign(digest, signingInput, key), alg);
  }
  if (alg.startsWith('PS')) {
    const options: SignKeyObjectInput = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
    return (signingInput) => sign(digest, signingInput, options);
  }
  // RS*: PKCS#1 v1.5 is the default padding for an RSA KeyObject, and a bare key is the fast path.
  return (signingInput) => sign(digest, signingInput, key);
}
