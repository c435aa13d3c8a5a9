import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import { misuse } from './config-error.js';

/** A thumbprint as RFC 8705 §3.1 writes it: 43 base64url characters, no padding. */
const THUMBPRINT_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * The RFC 8705 §3.1 `x5t#S256` of a certificate: base64url (no padding) of SHA-256 over its DER.
 *
 * @param certificate DER bytes, or PEM text (the first certificate is used).
 * @example computeThumbprint(readFileSync('alice.crt')) // 'SS1BLJC30XR_Alg9A9v1LgCf3hE91FS9XeVyveZZXvw'
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3.1
 */
export function computeThumbprint(certificate: Uint8Array | string): string {
  return createHash('sha256').update(toDer(certificate)).digest('base64url');
}

/**
 * The x5t#S256 form of a SHA-256 certificate hash given in hex, as proxies forward it (Envoy's
 * XFCC `Hash=`): the same digest, re-encoded as base64url without padding.
 * @throws ConfigError when `hex` is not 64 hex digits.
 */
export function thumbprintFromSha256Hex(hex: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw misuse('a SHA-256 hash is 64 hex digits');
  return Buffer.from(hex, 'hex').toString('base64url');
}

/**
 * The SHA-256 of a certificate's DER in lowercase hex, as Envoy's XFCC `Hash=` carries it: the
 * x5t#S256 digest re-encoded (the inverse of `thumbprintFromSha256Hex`), so the hash is taken in
 * one place.
 *
 * @param certificate DER bytes, or PEM text (the first certificate is used).
 */
export function computeSha256Hex(certificate: Uint8Array | string): string {
  return Buffer.from(computeThumbprint(certificate), 'base64url').toString('hex');
}

/** DER bytes of a DER or PEM certificate, parsed by node:crypto (never by hand). */
export function toDer(certificate: Uint8Array | string): Buffer {
  const isPem = typeof certificate === 'string' || Buffer.from(certificate.subarray(0, 11)).toString('latin1') === '-----BEGIN ';
  if (!isPem) return Buffer.from(certificate);
  try {
    return new X509Certificate(certificate).raw;
  } catch (cause) {
    throw misuse('certificate is neither DER nor a PEM certificate', { cause });
  }
}

/** Whether a value has the exact shape RFC 8705 §3.1 requires (rejects padding and `+` `/`). */
export function isWellFormedThumbprint(value: unknown): value is string {
  return typeof value === 'string' && THUMBPRINT_SHAPE.test(value);
}

/** Constant-time equality of two well-formed thumbprints. */
export function thumbprintsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'latin1');
  const right = Buffer.from(b, 'latin1');
  return left.length === right.length && timingSafeEqual(left, right);
}
