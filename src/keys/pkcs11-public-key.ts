import { createPublicKey, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import type * as Pkcs11Module from 'pkcs11js';
import { misuse } from '../core/config-error.js';
import type { AsymmetricAlgorithm } from '../core/rfc.js';

/** DER of the named curves' OIDs, as CKA_EC_PARAMS holds them (RFC 5480 §2.1.1.1). */
const CURVES: Record<string, { crv: string; alg: AsymmetricAlgorithm; size: number; hash: string }> = {
  '06082a8648ce3d030107': { crv: 'P-256', alg: 'ES256', size: 32, hash: 'sha256' },
  '06052b81040022': { crv: 'P-384', alg: 'ES384', size: 48, hash: 'sha384' },
};

export interface TokenPublicKey {
  key: KeyObject;
  alg: AsymmetricAlgorithm;
  curve: (typeof CURVES)[string] | undefined;
  modulusBytes: number;
}

/** The public key from the token's attributes: CKA_EC_PARAMS and CKA_EC_POINT, or CKA_MODULUS and CKA_PUBLIC_EXPONENT. */
export function publicKeyOf(p11: Pkcs11Module.PKCS11, session: Buffer, handle: Buffer, pkcs11js: typeof Pkcs11Module): TokenPublicKey {
  const [keyType] = p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_KEY_TYPE }]);
  // CK_ULONG: as wide as the platform's unsigned long, little-endian on the machines Node runs on.
  const type =
    keyType === undefined ? undefined : Number(keyType.value.length === 8 ? keyType.value.readBigUInt64LE() : keyType.value.readUInt32LE());
  if (type === pkcs11js.CKK_EC) {
    const [params, point] = p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_EC_PARAMS }, { type: pkcs11js.CKA_EC_POINT }]);
    const curve = CURVES[params?.value.toString('hex') ?? ''];
    if (curve === undefined || point === undefined)
      throw misuse('the PKCS#11 key is on a curve certbound does not sign with (P-256, P-384)');
    // CKA_EC_POINT is the DER OCTET STRING of the uncompressed point (PKCS#11 2.40 §2.3.3); some modules give the bare point.
    const raw =
      point.value.length === 1 + 2 * curve.size && point.value[0] === 4
        ? point.value
        : Buffer.from(AsnConvert.parse(point.value, OctetString).buffer);
    if (raw.length !== 1 + 2 * curve.size || raw[0] !== 4)
      throw misuse('the PKCS#11 key has an EC point certbound cannot read (uncompressed points only)');
    const coordinate = (from: number): string => raw.subarray(from, from + curve.size).toString('base64url');
    const key = createPublicKey({ key: { kty: 'EC', crv: curve.crv, x: coordinate(1), y: coordinate(1 + curve.size) }, format: 'jwk' });
    return { key, alg: curve.alg, curve, modulusBytes: 0 };
  }
  const [modulus, exponent] = p11.C_GetAttributeValue(session, handle, [
    { type: pkcs11js.CKA_MODULUS },
    { type: pkcs11js.CKA_PUBLIC_EXPONENT },
  ]);
  if (modulus === undefined || exponent === undefined) throw misuse('the PKCS#11 key is neither EC nor RSA');
  if (modulus.value.length < 256) throw misuse('RSA signing keys must be at least 2048 bits');
  const key = createPublicKey({
    key: { kty: 'RSA', n: modulus.value.toString('base64url'), e: exponent.value.toString('base64url') },
    format: 'jwk',
  });
  return { key, alg: 'RS256', curve: undefined, modulusBytes: modulus.value.length };
}
