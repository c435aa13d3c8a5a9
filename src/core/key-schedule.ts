/**
 * When each signing key is published, signs, stops signing and disappears from the JWKS. Pure:
 * times are seconds since the epoch, given by the caller.
 *
 * A rotation publishes the next key `publishAhead` seconds before it signs, so every resource
 * server has it (JWKS caches expire, unknown kids are re-fetched) before the first token it signs
 * arrives; and keeps the retired key published until every token it signed has expired.
 */
import { DEFAULTS } from '../defaults.js';

export interface ScheduledKey {
  kid: string;
  /** In the JWKS from this time. */
  publishAt: number;
  /** Signs new tokens from this time (the latest activated, unretired key signs). */
  activateAt: number;
  /** Stops signing at this time. */
  retireAt?: number | undefined;
  /** Leaves the JWKS at this time. */
  expireAt?: number | undefined;
}

/** The key that signs at `now`: the most recently activated one that is not retired. */
export function signingKeyAt<K extends ScheduledKey>(keys: readonly K[], now: number): K | undefined {
  let current: K | undefined;
  for (const key of keys) {
    if (key.activateAt > now || (key.retireAt !== undefined && key.retireAt <= now)) continue;
    if (current === undefined || key.activateAt > current.activateAt) current = key;
  }
  return current;
}

/** The keys a JWKS publishes at `now`. */
export function publishedKeysAt<K extends ScheduledKey>(keys: readonly K[], now: number): K[] {
  return keys.filter((key) => key.publishAt <= now && (key.expireAt === undefined || now < key.expireAt));
}

/** Seconds until the schedule next changes what is published or who signs (undefined: never). */
export function secondsUntilNextChange(keys: readonly ScheduledKey[], now: number): number | undefined {
  const future = keys
    .flatMap((key) => [key.publishAt, key.activateAt, key.retireAt, key.expireAt])
    .filter((time): time is number => time !== undefined && time > now);
  return future.length === 0 ? undefined : Math.min(...future) - now;
}

export interface RotationPlan<K extends ScheduledKey> {
  /** The schedule with the new key added and the old ones retired and set to expire. */
  keys: Array<K | ScheduledKey>;
  /** Keys dropped because they have expired. */
  removed: K[];
}

/**
 * Plan a rotation at `now`: `next` is published now and signs from `now + publishAheadSeconds`;
 * keys signing until then retire at that moment and expire `maxTokenLifetimeSeconds +
 * clockSkewSeconds` later, when no token they signed can still be valid.
 */
export function planRotation<K extends ScheduledKey>(
  keys: readonly K[],
  nextKid: string,
  now: number,
  options: { publishAheadSeconds: number; maxTokenLifetimeSeconds: number; clockSkewSeconds?: number },
): RotationPlan<K> {
  const switchAt = now + options.publishAheadSeconds;
  const expireAt = switchAt + options.maxTokenLifetimeSeconds + (options.clockSkewSeconds ?? DEFAULTS.keystore.clockSkewSeconds);
  const removed = keys.filter((key) => key.expireAt !== undefined && key.expireAt <= now);
  const kept = keys
    .filter((key) => !removed.includes(key))
    .map((key) =>
      key.retireAt === undefined || key.retireAt > switchAt
        ? { ...key, retireAt: switchAt, expireAt: Math.max(key.expireAt ?? 0, expireAt) }
        : key,
    );
  return { keys: [...kept, { kid: nextKid, publishAt: now, activateAt: switchAt }], removed };
}
