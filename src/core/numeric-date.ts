/**
 * The time claims a verifier decides on (RFC 7519 §4.1.4-6). jose checks that they are numbers;
 * `1e309` is one (JSON.parse reads it as Infinity), and an `exp` of Infinity never expires.
 */
export const NUMERIC_DATE_CLAIMS = ['exp', 'nbf', 'iat'] as const;
export type NumericDateClaim = (typeof NUMERIC_DATE_CLAIMS)[number];

/**
 * The first time claim present that is not a finite whole number of seconds, if any. RFC 7519 §2
 * allows fractions; certbound refuses them with the non-finite values: no issuer it works with
 * sends them, and they are likelier a unit mistake than a finer clock.
 */
export function malformedNumericDate(payload: Readonly<Record<string, unknown>>): NumericDateClaim | undefined {
  return NUMERIC_DATE_CLAIMS.find((claim) => payload[claim] !== undefined && !Number.isSafeInteger(payload[claim]));
}
