import { misuse } from '../core/config-error.js';
import type { AsymmetricAlgorithm } from '../core/rfc.js';
import { openPkcs11Signer, type Pkcs11Signer } from '../keys/pkcs11-signer.js';
import { readPinFile } from '../keys/pkcs11-token.js';
import type { Pkcs11Settings } from '../keys/tls-key-opener.js';

/**
 * The STS signing key named by `signing.key: pkcs11:...` / `--jwt-key pkcs11:...`: the token's key
 * decides the algorithm (ES256/ES384 for EC, RS256 for RSA); a different `signing.alg` is refused.
 */
export async function openSigningKeyInToken(
  uri: string,
  kid: string | undefined,
  alg: AsymmetricAlgorithm | undefined,
  pkcs11: Pkcs11Settings & { verifyEachSignature?: boolean | undefined },
): Promise<Pkcs11Signer> {
  const pin = pkcs11.pinFile === undefined ? undefined : await readPinFile(pkcs11.pinFile);
  const signer = await openPkcs11Signer({
    uri,
    ...(pkcs11.module === undefined ? {} : { module: pkcs11.module }),
    ...(pin === undefined ? {} : { pin, pinOrigin: `the PIN file ${pkcs11.pinFile ?? ''}` }),
    ...(kid === undefined ? {} : { kid }),
    ...(pkcs11.verifyEachSignature === undefined ? {} : { verifyEachSignature: pkcs11.verifyEachSignature }),
  });
  if (alg !== undefined && alg !== signer.alg) {
    signer.close();
    throw misuse(`the PKCS#11 signing key signs ${signer.alg}, not ${alg}: drop signing.alg (--jwt-alg) or name another key`);
  }
  return signer;
}
