import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import * as v from 'valibot';
import { ASYMMETRIC_ALGORITHMS, type AsymmetricAlgorithm } from './rfc.js';
import { callable, integer, isPlainObject, optionsObject, parseOptions } from './schema.js';
import { DEFAULTS } from '../defaults.js';

export interface VerifierOptions {
  /** The issuer's public keys: a JWKS document, or a resolver such as jose's createRemoteJWKSet. */
  keys: JSONWebKeySet | JWTVerifyGetKey;
  /** Accepted `iss` value(s). */
  issuer: string | readonly string[];
  /** This resource's identifier(s); the token's `aud` must contain one. */
  audience: string | readonly string[];
  /** Allowed JWS algorithms (default: every asymmetric one). `none` and HS* cannot be listed. */
  algorithms?: readonly AsymmetricAlgorithm[];
  /** Allowed clock skew for exp/nbf in seconds (default 30, at most 300). */
  clockToleranceSeconds?: number;
  /** Current time in milliseconds; injected so expiry is testable. */
  now?: () => number;
}

export interface ResolvedVerifierOptions {
  keys: JWTVerifyGetKey;
  issuer: string[];
  audience: string[];
  algorithms: AsymmetricAlgorithm[];
  clockToleranceSeconds: number;
  now: () => number;
}

const STRINGS_PROBLEM = 'must be a non-empty string or array of non-empty strings';
const nonEmptyStrings = (value: unknown): boolean =>
  Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string' && item.length > 0);

/** One value or a non-empty list of them, as a list. */
const oneOrMore = v.pipe(
  v.custom<string | string[]>((value) => nonEmptyStrings(typeof value === 'string' ? [value] : value), STRINGS_PROBLEM),
  v.transform((value): string[] => (typeof value === 'string' ? [value] : [...value])),
);

const MAX_SKEW = DEFAULTS.verification.maxClockToleranceSeconds;

const VERIFIER_OPTIONS = optionsObject(
  {
    keys: v.pipe(
      v.custom<JSONWebKeySet | JWTVerifyGetKey>(
        (keys) => typeof keys === 'function' || (isPlainObject(keys) && Array.isArray(keys.keys)),
        'must be a JWKS ({ keys: [...] }) or a key resolver function',
      ),
      v.transform((keys): JWTVerifyGetKey => (typeof keys === 'function' ? keys : createLocalJWKSet(keys))),
    ),
    issuer: oneOrMore,
    audience: oneOrMore,
    algorithms: v.optional(
      v.pipe(
        v.array(
          v.custom<unknown>(() => true),
          'must be a list of asymmetric JWS algorithms',
        ),
        v.minLength(1, 'must not be empty'),
        v.check(
          (list) => list.every((alg) => (ASYMMETRIC_ALGORITHMS as readonly unknown[]).includes(alg)),
          (issue) =>
            `may only list asymmetric JWS algorithms; ${JSON.stringify((issue.input as unknown[]).find((alg) => !(ASYMMETRIC_ALGORITHMS as readonly unknown[]).includes(alg)))} is not one`,
        ),
        v.transform((list) => list as AsymmetricAlgorithm[]),
      ),
      () => [...ASYMMETRIC_ALGORITHMS],
    ),
    clockToleranceSeconds: v.optional(integer(0, MAX_SKEW), DEFAULTS.verification.clockToleranceSeconds),
    now: v.optional(callable<() => number>('must be a function returning milliseconds'), () => Date.now),
  },
  'verifier options must be an object',
);

/**
 * The verifier's options, checked once, defaults filled in.
 * @throws ConfigError naming the option.
 */
export function resolveVerifierOptions(options: VerifierOptions): ResolvedVerifierOptions {
  return parseOptions(VERIFIER_OPTIONS, options);
}
