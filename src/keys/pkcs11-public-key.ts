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

/** PKCS#11 3.0 values pkcs11js 2.1 does not export (it has 2.40's): Ed25519 keys and EdDSA. */
export const PKCS11_3_0 = { CKK_EC_EDWARDS: 0x40, CKM_EC_EDWARDS_KEY_PAIR_GEN: 0x1055, CKM_EDDSA: 0x1057 } as const;

/** Ed25519 in CKA_EC_PARAMS: the RFC 8410 OID 1.3.101.112, or the curve name as a PrintableString (PKCS#11 3.0 §2.3.10). */
export const ED25519_PARAMS = Buffer.from('06032b6570', 'hex');
const ED25519_NAMED = '130c656477617264733235353139';

export interface TokenPublicKey {
  key: KeyObject;
  alg: AsymmetricAlgorithm;
  kind: 'ec' | 'rsa' | 'ed25519';
  /** The digest an ECDSA key signs (CKM_ECDSA takes the hash); none for RSA (the mechanism hashes) and Ed25519. */
  prehash: string | undefined;
  /** The signature's length: r || s, the modulus, or 64 for Ed25519. */
  signatureBytes: number;
}

/** A CK_ULONG attribute: as wide as the platform's unsigned long, little-endian on the machines Node runs on. */
export function ulong(value: Buffer | undefined): number | undefined {
  if (value === undefined) return undefined;
  return Number(value.length === 8 ? value.readBigUInt64LE() : value.readUInt32LE());
}

/** CKA_EC_POINT is the DER OCTET STRING of the point (PKCS#11 2.40 §2.3.3); some modules give the bare point. */
function pointOf(value: Buffer, bareLength: number): Buffer {
  if (value.length === bareLength) return value;
  return Buffer.from(AsnConvert.parse(value, OctetString).buffer);
}

/**
 * The public key from the token's attributes: CKA_EC_PARAMS and CKA_EC_POINT (P-256, P-384,
 * Ed25519), or CKA_MODULUS and CKA_PUBLIC_EXPONENT.
 */
export function publicKeyOf(p11: Pkcs11Module.PKCS11, session: Buffer, handle: Buffer, pkcs11js: typeof Pkcs11Module): TokenPublicKey {
  const [keyType] = p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_KEY_TYPE }]);
  const type = ulong(keyType?.value);
  if (type === PKCS11_3_0.CKK_EC_EDWARDS) {
    const [params, point] = p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_EC_PARAMS }, { type: pkcs11js.CKA_EC_POINT }]);
    const named = params?.value.toString('hex');
    if ((named !== ED25519_PARAMS.toString('hex') && named !== ED25519_NAMED) || point === undefined)
      throw misuse('the PKCS#11 key is an Edwards key certbound does not sign with (Ed25519 only)');
    const raw = pointOf(point.value, 32);
    if (raw.length !== 32) throw misuse('the PKCS#11 key has an Ed25519 point certbound cannot read');
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    return { key, alg: 'EdDSA', kind: 'ed25519', prehash: undefined, signatureBytes: 64 };
  }
  if (type === pkcs11js.CKK_EC) {
    const [params, point] = p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_EC_PARAMS }, { type: pkcs11js.CKA_EC_POINT }]);
    const curve = CURVES[params?.value.toString('hex') ?? ''];
    if (curve === undefined || point === undefined)
      throw misuse('the PKCS#11 key is on a curve certbound does not sign with (P-256, P-384)');
    const raw = point.value[0] === 4 ? pointOf(point.value, 1 + 2 * curve.size) : pointOf(point.value, -1);
    if (raw.length !== 1 + 2 * curve.size || raw[0] !== 4)
      throw misuse('the PKCS#11 key has an EC point certbound cannot read (uncompressed points only)');
    const coordinate = (from: number): string => raw.subarray(from, from + curve.size).toString('base64url');
    const key = createPublicKey({ key: { kty: 'EC', crv: curve.crv, x: coordinate(1), y: coordinate(1 + curve.size) }, format: 'jwk' });
    return { key, alg: curve.alg, kind: 'ec', prehash: curve.hash, signatureBytes: 2 * curve.size };
  }
  const [modulus, exponent] = p11.C_GetAttributeValue(session, handle, [
    { type: pkcs11js.CKA_MODULUS },
    { type: pkcs11js.CKA_PUBLIC_EXPONENT },
  ]);
  if (modulus === undefined || exponent === undefined) throw misuse('the PKCS#11 key is neither EC, Ed25519 nor RSA');
  if (modulus.value.length < 256) throw misuse('RSA signing keys must be at least 2048 bits');
  const key = createPublicKey({
    key: { kty: 'RSA', n: modulus.value.toString('base64url'), e: exponent.value.toString('base64url') },
    format: 'jwk',
  });
  return { key, alg: 'RS256', kind: 'rsa', prehash: undefined, signatureBytes: modulus.value.length };
}
