import type { BoundTokenVerifier, VerifiedToken } from './verify.js';
import { DEFAULTS } from '../defaults.js';

/** Defaults: DEFAULTS.verification (src/defaults.ts), where the reasons are. */
export const DEFAULT_CACHE_MAX_ENTRIES = DEFAULTS.verification.cacheMaxEntries;
export const DEFAULT_CACHE_MAX_AGE_SECONDS = DEFAULTS.verification.cacheMaxAgeSeconds;

export interface VerificationCacheOptions {
  maxEntries?: number;
  maxAgeSeconds?: number;
  /** Current time in milliseconds (injected for tests). */
  now?: () => number;
}

/**
 * A verifier that remembers successful verifications, keyed by the token *and* the thumbprint of
 * the certificate it was presented with, so a hit can never admit a token over another
 * certificate. An entry lives until the token's `exp` or `maxAgeSeconds`, whichever is first.
 * Failures are never cached: a refused token is checked afresh every time, and a valid token is
 * never refused because of an earlier failure. Least recently used entries go first when full.
 */
export function withVerificationCache(verifier: BoundTokenVerifier, options: VerificationCacheOptions = {}): BoundTokenVerifier & { readonly size: number } {
  if (typeof verifier?.verify !== 'function') throw new TypeError('"verifier" must come from createBoundTokenVerifier()');
  const maxEntries = options.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('"maxEntries" must be a positive integer');
  const maxAgeSeconds = options.maxAgeSeconds ?? DEFAULT_CACHE_MAX_AGE_SECONDS;
  if (!Number.isFinite(maxAgeSeconds) || maxAgeSeconds <= 0) throw new TypeError('"maxAgeSeconds" must be a positive number');
  const now = options.now ?? Date.now;
  // Map iteration order is insertion order: re-inserting on a hit makes it an LRU.
  const entries = new Map<string, { verified: VerifiedToken; until: number }>();

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
        entries.delete(key);
        if (time < hit.until) {
          entries.set(key, hit);
          return hit.verified;
        }
      }
      const verified = await verifier.verify(token, peerThumbprint);
      const exp = typeof verified.claims.exp === 'number' ? verified.claims.exp * 1000 : time;
      const until = Math.min(exp, time + maxAgeSeconds * 1000);
      if (until > time) {
        entries.set(key, { verified, until });
        if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
      }
      return verified;
    },
  };
}
