import { LRUCache } from 'lru-cache';
import * as v from 'valibot';
import { optionsObject, parseOptions } from './schema.js';
import { DEFAULTS } from '../defaults.js';

/**
 * Token-bucket rate limiting by key (the STS keys it by client-certificate thumbprint). Pure: the
 * caller passes the clock, so tests drive time and the server reads it once per request.
 */

export interface RateLimitOptions {
  /** Sustained requests per second per key. */
  perSecond: number;
  /** Requests a key may make at once after being idle (bucket size). */
  burst: number;
  /** Keys tracked at most; beyond it the least recently seen key is forgotten (it starts full). */
  maxKeys?: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Take one request for `key` at `nowMs`. */
  take(key: string, nowMs: number): RateDecision;
  /** Keys currently tracked (bounded by maxKeys). */
  readonly size: number;
}

/** Defaults: generous for a workload that caches its tokens, tight for a runaway client. */
export const RATE_LIMIT_DEFAULTS = { ...DEFAULTS.sts.rateLimit, maxKeys: DEFAULTS.sts.rateLimitMaxKeys } as const;

const atLeastOne = 'must be an integer >= 1';
const RATE_LIMIT_OPTIONS = optionsObject(
  {
    perSecond: v.pipe(
      v.number('must be a positive number'),
      v.finite('must be a positive number'),
      v.gtValue(0, 'must be a positive number'),
    ),
    burst: v.pipe(v.number(atLeastOne), v.integer(atLeastOne), v.minValue(1, atLeastOne)),
    maxKeys: v.optional(v.pipe(v.number(atLeastOne), v.integer(atLeastOne), v.minValue(1, atLeastOne)), RATE_LIMIT_DEFAULTS.maxKeys),
  },
  '"rateLimit" must be false or { perSecond, burst }',
);

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export function createRateLimiter(options: RateLimitOptions): RateLimiter {
  const { perSecond, burst, maxKeys } = parseOptions(RATE_LIMIT_OPTIONS, options, 'rateLimit');
  const buckets = new LRUCache<string, Bucket>({ max: maxKeys });
  return {
    take(key, nowMs) {
      const bucket = buckets.get(key) ?? { tokens: burst, updatedMs: nowMs };
      // A clock that steps back refills nothing rather than going negative.
      const elapsedSeconds = Math.max(0, nowMs - bucket.updatedMs) / 1000;
      bucket.tokens = Math.min(burst, bucket.tokens + elapsedSeconds * perSecond);
      bucket.updatedMs = Math.max(bucket.updatedMs, nowMs);
      buckets.set(key, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true };
      }
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond)) };
    },
    get size() {
      return buckets.size;
    },
  };
}
