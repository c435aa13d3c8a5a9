// certbound/errors: one class, a closed set of codes, narrowing by `code`.
import { CertboundError as CoreCertboundError, ConfigError as CoreConfigError } from 'certbound';
import { FileProblem as StsFileProblem } from 'certbound/sts';
import {
  CertboundError,
  ConfigError,
  FileProblem,
  ERROR_OUTCOMES,
  isCertboundError,
  toCertboundError,
  type AnyCertboundError,
  type CertboundErrorCode,
  type FailureReason,
} from 'certbound/errors';
import { expectType, type Equal } from './assert.js';

// The same class from either entry point.
expectType<Equal<typeof CoreCertboundError, typeof CertboundError>>();
expectType<Equal<typeof CoreConfigError, typeof ConfigError>>();
expectType<Equal<typeof StsFileProblem, typeof FileProblem>>();

// Misuse is a TypeError with one code, apart from the request-time codes.
declare const misuse: ConfigError;
expectType<Equal<typeof misuse.code, 'CB_CONFIG_INVALID'>>();
const asTypeError: TypeError = misuse;
void asTypeError;
// @ts-expect-error CB_CONFIG_INVALID is not a request outcome: no transport renders it
void ERROR_OUTCOMES.CB_CONFIG_INVALID;

// Codes are a closed union: a typo is a compile error.
const expired = new CertboundError('CB_TOKEN_EXPIRED', { description: 'token expired', reason: 'expired' });
expectType<Equal<typeof expired.code, 'CB_TOKEN_EXPIRED'>>();
// @ts-expect-error no such code
new CertboundError('CB_TOKEN_EXPRIED', { description: 'typo' });
// @ts-expect-error a description is required (it is what the peer is told)
new CertboundError('CB_INTERNAL', {});
// @ts-expect-error reasons are a closed set too
new CertboundError('CB_CNF_MISMATCH', { description: 'x', reason: 'wrong' });
const reason: FailureReason = 'not_yet_valid';
void reason;

// The outcome table has an entry for every code, and nothing else.
expectType<Equal<(typeof ERROR_OUTCOMES)['CB_SCOPE_INSUFFICIENT']['http'], number>>();
expectType<Equal<(typeof ERROR_OUTCOMES)['CB_TOKEN_MISSING']['oauth'], string | null>>();
// @ts-expect-error no such code in the table
void ERROR_OUTCOMES.CB_TOKEN_EXPRIED;
expectType<Equal<keyof typeof ERROR_OUTCOMES, CertboundErrorCode>>();

// isCertboundError narrows an unknown catch value to the discriminated union.
declare const caught: unknown;
if (isCertboundError(caught)) {
  expectType<Equal<typeof caught, AnyCertboundError>>();
  expectType<Equal<typeof caught.code, CertboundErrorCode>>();
  describe(caught);
}

/** `switch (error.code)` narrows the error, and is exhaustive over every code. */
function describe(error: AnyCertboundError): string {
  switch (error.code) {
    case 'CB_TOKEN_EXPIRED':
    case 'CB_TOKEN_NOT_YET_VALID':
      expectType<Equal<typeof error, CertboundError<'CB_TOKEN_EXPIRED'> | CertboundError<'CB_TOKEN_NOT_YET_VALID'>>>();
      return 'clock';
    case 'CB_RATE_LIMITED':
      expectType<Equal<typeof error, CertboundError<'CB_RATE_LIMITED'>>>();
      return `retry after ${error.retryAfterSeconds ?? 1}s`;
    // @ts-expect-error not a code: the union is closed
    case 'CB_RATE_LIMIT':
      return 'never';
    default:
      return error.code;
  }
}

/** In the default branch, the error is every code not handled above, and not yet `never`. */
function status(error: AnyCertboundError): number {
  switch (error.code) {
    case 'CB_SCOPE_INSUFFICIENT':
      return 403;
    default: {
      expectType<Equal<typeof error, Exclude<AnyCertboundError, { code: 'CB_SCOPE_INSUFFICIENT' }>>>();
      // @ts-expect-error codes are left, so the switch is not exhaustive
      const unhandled: never = error;
      return unhandled;
    }
  }
}
void status;

// toCertboundError always gives a CertboundError (CB_INTERNAL for anything else).
const wrapped = toCertboundError(new Error('boom'));
expectType<Equal<typeof wrapped, CertboundError>>();
expectType<Equal<typeof wrapped.code, CertboundErrorCode>>();
// A CertboundError of one code is not one of another.
// @ts-expect-error CB_TOKEN_EXPIRED is not CB_INTERNAL
const internal: CertboundError<'CB_INTERNAL'> = expired;
void internal;
