import { createHash, verify } from 'node:crypto';
import { basename } from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import type { Signer } from '../core/signing/signer.js';
import { PKCS11_3_0, type TokenPublicKey } from './pkcs11-public-key.js';
import { openTokenKey, type Pkcs11js, type Pkcs11KeyOptions } from './pkcs11-token.js';

export interface Pkcs11SignerOptions extends Pkcs11KeyOptions {
  /** Key id in the JWKS; defaults to the RFC 7638 thumbprint of the public key. */
  kid?: string;
  /**
   * Check every signature against the public key before it is used (a TPM has been seen to
   * return invalid signatures without an error). Costs one verification per token. Default: on
   * for TPM modules (tpm2-pkcs11), off for others.
   */
  verifyEachSignature?: boolean;
}

/** A signer whose private key stays in a PKCS#11 token; `close()` logs out and unloads the module. */
export type Pkcs11Signer = Signer & {
  /** Whether each signature is checked before use (`verifyEachSignature`, or its default for the module). */
  readonly verifiesEachSignature: boolean;
  close(): void;
};

/**
 * Open a signing key held in a PKCS#11 token (an HSM, a YubiKey, a TPM through tpm2-pkcs11,
 * SoftHSM): log in, find the private key and its public half, and sign through the module. EC
 * keys sign ES256/ES384 (CKM_ECDSA over the digest: the module returns raw r || s, the JWS
 * form); RSA keys RS256 (CKM_SHA256_RSA_PKCS); Ed25519 keys EdDSA (CKM_EDDSA, PKCS#11 3.0). The private key never enters this process. When
 * the token goes away and comes back, the next signature logs in again.
 * @throws ConfigError or FileProblem naming what is wrong: no module, a wrong PIN, no such token or key.
 */
export async function openPkcs11Signer(options: Pkcs11SignerOptions): Promise<Pkcs11Signer> {
  const { kid: givenKid, verifyEachSignature, ...where } = options;
  const token = await openTokenKey(where);
  try {
    const { publicKey, p11, pkcs11js } = token;
    const publicJwk = (await exportJWK(publicKey.key)) as JWK;
    const kid = givenKid ?? (await calculateJwkThumbprint(publicJwk));
    const mechanism = { ec: pkcs11js.CKM_ECDSA, rsa: pkcs11js.CKM_SHA256_RSA_PKCS, ed25519: PKCS11_3_0.CKM_EDDSA }[publicKey.kind];
    const { signatureBytes, prehash } = publicKey;
    const lost = sessionLost(pkcs11js);
    const verifyEach = verifyEachSignature ?? /tpm2/i.test(basename(token.modulePath));
    let closed = false;
    const signOnce = (data: Buffer): Uint8Array => {
      p11.C_SignInit(token.session(), { mechanism }, token.privateKey());
      return p11.C_Sign(token.session(), data, Buffer.alloc(signatureBytes));
    };
    const signRaw = (signingInput: Uint8Array): Uint8Array => {
      if (closed) throw new Error(`PKCS#11 signer ${kid} is closed`);
      const data = prehash === undefined ? Buffer.from(signingInput) : createHash(prehash).update(signingInput).digest();
      try {
        return signOnce(data);
      } catch (error) {
        if (!lost.has((error as { code?: number }).code ?? 0)) throw error;
        // The token was removed or restarted: start afresh and log in again, once per signature.
        token.recover();
        return signOnce(data);
      }
    };
    return {
      alg: publicKey.alg,
      kid,
      publicJwk: { ...publicJwk, kid, alg: publicKey.alg, use: 'sig' },
      verifiesEachSignature: verifyEach,
      sign(signingInput) {
        const signature = signRaw(signingInput);
        if (verifyEach && !checks(publicKey, signingInput, signature)) {
          throw new Error(`the PKCS#11 module returned a signature that does not verify (key ${kid})`);
        }
        return signature;
      },
      close() {
        if (closed) return;
        closed = true;
        token.close();
      },
    };
  } catch (error) {
    token.close();
    throw error;
  }
}

/** Return values after which a new session (and login) may succeed (PKCS#11 3.0 §5.1). */
const sessionLost = (pkcs11js: Pkcs11js): Set<number> =>
  new Set([
    pkcs11js.CKR_SESSION_CLOSED,
    pkcs11js.CKR_SESSION_HANDLE_INVALID,
    pkcs11js.CKR_DEVICE_REMOVED,
    pkcs11js.CKR_DEVICE_ERROR,
    pkcs11js.CKR_TOKEN_NOT_PRESENT,
    pkcs11js.CKR_USER_NOT_LOGGED_IN,
    pkcs11js.CKR_OBJECT_HANDLE_INVALID,
    pkcs11js.CKR_KEY_HANDLE_INVALID,
    // What tpm2-pkcs11 answers when its resource manager went away (measured with swtpm).
    pkcs11js.CKR_GENERAL_ERROR,
    // A start afresh that found the device still gone left the module uninitialised.
    pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
  ]);

function checks(publicKey: TokenPublicKey, signingInput: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.kind === 'ed25519') return verify(null, signingInput, publicKey.key, signature);
  if (publicKey.kind === 'rsa') return verify('sha256', signingInput, publicKey.key, signature);
  return verify(publicKey.prehash as string, signingInput, { key: publicKey.key, dsaEncoding: 'ieee-p1363' }, signature);
}
