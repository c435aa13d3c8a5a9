import { derToJose } from 'ecdsa-sig-formatter';

/**
 * ECDSA signatures from DER (what OpenSSL returns) to the JWS form (RFC 7518 §3.4): `r || s`,
 * each left-padded to the curve's size. node:crypto can do this itself (`{ key, dsaEncoding:
 * 'ieee-p1363' }`), but on Node 24 (OpenSSL 3.5) that option rebuilds an EC key on every call
 * just to learn the curve size: measured, an ES256 signature took twice as long. So the STS signs
 * with the bare KeyObject and converts with ecdsa-sig-formatter (the converter jwa, and so
 * jsonwebtoken, use), which costs the same on Node 20 as on 24.
 */
export type EcdsaAlgorithm = 'ES256' | 'ES384' | 'ES512';

/**
 * Convert a DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3), as node:crypto signs it, to `r || s`.
 * @throws Error when the input is not such a SEQUENCE (it always is, coming from OpenSSL).
 */
export function ecdsaDerToJose(der: Uint8Array, alg: EcdsaAlgorithm): Uint8Array {
  return Buffer.from(derToJose(Buffer.from(der.buffer, der.byteOffset, der.byteLength), alg), 'base64url');
}
