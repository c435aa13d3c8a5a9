import { LRUCache } from 'lru-cache';
import * as v from 'valibot';
import type { BoundTokenVerifier, VerifiedToken } from './verify.js';
import { callable, madeBy, optionsObject, parseOptions } from './schema.js';
import { DEFAULTS } from '../defaults.js';

/** Defaults: DEFAULTS.verification (src/defaults.ts), where the reasons are. */
export const DEFAULT_CACHE_MAX_ENTRIES = DEFAULTS.verification.cacheMaxEntries;
export const DEFAULT_CACHE_MAX_AGE_SECONDS = DEFAULTS.verification.cacheMaxAgeSeconds;

export interface VerificationCacheOptions {
  maxEntries?: number;
  maxAgeSeconds?: number;
  /** Current time in milliseconds (injected for tests). */
  now?: () => number;
  /** Told of each lookup, hit or miss (for metrics). */
  onLookup?: (hit: boolean) => void;
}

const CACHE_OPTIONS = optionsObject(
  {
    maxEntries: v.optional(
      v.pipe(v.number('must be a positive integer'), v.integer('must be a positive integer'), v.minValue(1, 'must be a positive integer')),
      DEFAULT_CACHE_MAX_ENTRIES,
    ),
    maxAgeSeconds: v.optional(
      v.pipe(v.number('must be a positive number'), v.finite('must be a positive number'), v.gtValue(0, 'must be a positive number')),
      DEFAULT_CACHE_MAX_AGE_SECONDS,
    ),
    now: v.optional(callable<() => number>('must be a function returning milliseconds'), () => Date.now),
    onLookup: v.optional(callable<(hit: boolean) => void>('must be a function'), () => () => {}),
  },
  'cache options must be an object',
);

/**
 * A verifier that remembers successful verifications, keyed by the token *and* the thumbprint of
 * the certificate it was presented with, so a hit can never admit a token over another
 * certificate. An entry lives until the token's `exp` or `maxAgeSeconds`, whichever is first.
 * Failures are never cached: a refused token is checked afresh every time, and a valid token is
 * never refused because of an earlier failure. Least recently used entries go first when full.
 */
export function withVerificationCache(
  verifier: BoundTokenVerifier,
  options: VerificationCacheOptions = {},
): BoundTokenVerifier & { readonly size: number } {
  parseOptions(madeBy<BoundTokenVerifier>('verify', '"verifier" must come from createBoundTokenVerifier()'), verifier);
  const { maxEntries, maxAgeSeconds, now, onLookup } = parseOptions(CACHE_OPTIONS, options);
  // Expiry is ours (the token's exp, on the injected clock); the LRU only bounds the size.
  const entries = new LRUCache<string, { verified: VerifiedToken; until: number }>({ max: maxEntries });

  return {
    get size() {
      return entries.size;
    },
    async verify(token, peerThumbprint) {
      // Without a certificate there is nothing to cache: the verifier refuses at once.
      if (peerThumbprint === undefined) return verifier.verify(token, peerThumbprint);
      const key = `${peerThumbprint} ${token}`;
      const hit = entries.get(key);
      const time = now();
      if (hit !== undefined) {
        if (time < hit.until) {
          onLookup(true);
          return hit.verified;
        }
        entries.delete(key);
      }
      onLookup(false);
      const verified = await verifier.verify(token, peerThumbprint);
      const exp = typeof verified.claims.exp === 'number' ? verified.claims.exp * 1000 : time;
      const until = Math.min(exp, time + maxAgeSeconds * 1000);
      if (until > time) entries.set(key, { verified, until });
      return verified;
    },
  };
}
