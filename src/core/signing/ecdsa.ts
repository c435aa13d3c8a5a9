/**
 * ECDSA signatures from DER (what OpenSSL returns) to the JWS form (RFC 7518 §3.4): `r || s`,
 * each left-padded to the curve's size. node:crypto can do this itself (`{ key, dsaEncoding:
 * 'ieee-p1363' }`), but on Node 24 (OpenSSL 3.5) that option rebuilds an EC key on every call
 * just to learn the curve size, and the options object costs a thrown-and-caught TypeError while
 * the key is prepared: measured, an ES256 signature took twice as long. Signing with the bare
 * KeyObject and converting here costs neither, on Node 20 as on 24.
 */

/** Bytes of r and of s for each JWS ECDSA algorithm (RFC 7518 §3.4). */
export const ECDSA_COMPONENT_BYTES = { ES256: 32, ES384: 48, ES512: 66 } as const;

/**
 * Convert a DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3), as
 * node:crypto signs it, to `r || s`. The input is OpenSSL's, so this only reads that shape and
 * throws on anything else rather than decoding DER in general.
 * @throws ConfigError when the input is not such a SEQUENCE or an integer is wider than `size`.
 */
export function ecdsaDerToJose(der: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(2 * size);
  // SEQUENCE, with a one-byte length, or 0x81 and one (P-521's can exceed 127).
  let offset = der[1] === 0x81 ? 3 : 2;
  if (der[0] !== 0x30 || der.length !== offset + (der[offset - 1] ?? -1)) throw new TypeError('not a DER ECDSA signature');
  for (let i = 0; i < 2; i++) {
    const length = der[offset + 1] ?? 0;
    let start = offset + 2;
    const end = start + length;
    if (der[offset] !== 0x02 || length === 0 || length > 127 || end > der.length) throw new TypeError('not a DER ECDSA signature');
    while (start < end - 1 && der[start] === 0) start++; // the sign byte DER adds before a high bit
    if (end - start > size) throw new TypeError(`ECDSA signature integer wider than ${size} bytes`);
    out.set(der.subarray(start, end), (i + 1) * size - (end - start));
    offset = end;
  }
  if (offset !== der.length) throw new TypeError('not a DER ECDSA signature');
  return out;
}
