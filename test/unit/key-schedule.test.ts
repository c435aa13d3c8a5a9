// The signing-key schedule: who signs, what is published, when the next change is, and how a
// rotation rewrites it. Pure functions, explicit times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRotation, publishedKeysAt, secondsUntilNextChange, signingKeyAt, type ScheduledKey } from '../../src/core/key-schedule.js';

const T = 1_700_000_000;
const first: ScheduledKey = { kid: 'first', publishAt: T, activateAt: T };

test('a single active key signs and is published from its activation on', () => {
  assert.equal(signingKeyAt([first], T - 1), undefined);
  assert.equal(signingKeyAt([first], T)?.kid, 'first');
  assert.deepEqual(publishedKeysAt([first], T - 1), []);
  assert.deepEqual(
    publishedKeysAt([first], T).map((key) => key.kid),
    ['first'],
  );
  assert.equal(secondsUntilNextChange([first], T), undefined);
});

test('a rotation publishes the next key at once, switches after publish-ahead, keeps the old one until its tokens expired', () => {
  const now = T + 1000;
  const { keys, removed } = planRotation([first], 'second', now, {
    publishAheadSeconds: 600,
    maxTokenLifetimeSeconds: 3600,
    clockSkewSeconds: 60,
  });
  assert.deepEqual(removed, []);
  const old = keys.find((key) => key.kid === 'first');
  assert.deepEqual(old, { kid: 'first', publishAt: T, activateAt: T, retireAt: now + 600, expireAt: now + 600 + 3600 + 60 });
  assert.deepEqual(
    keys.find((key) => key.kid === 'second'),
    { kid: 'second', publishAt: now, activateAt: now + 600 },
  );
  // Before the switch: old signs, both published, next change at the switch.
  assert.equal(signingKeyAt(keys, now + 599)?.kid, 'first');
  assert.deepEqual(
    publishedKeysAt(keys, now)
      .map((key) => key.kid)
      .sort(),
    ['first', 'second'],
  );
  assert.equal(secondsUntilNextChange(keys, now), 600);
  // From the switch: the new key signs, the old one is still published for its tokens.
  assert.equal(signingKeyAt(keys, now + 600)?.kid, 'second');
  assert.deepEqual(
    publishedKeysAt(keys, now + 600 + 3659)
      .map((key) => key.kid)
      .sort(),
    ['first', 'second'],
  );
  // Once every token the old key signed has expired, it leaves the JWKS.
  assert.deepEqual(
    publishedKeysAt(keys, now + 600 + 3660).map((key) => key.kid),
    ['second'],
  );
});

test('a later rotation removes keys that have expired', () => {
  const once = planRotation([first], 'second', T + 10, { publishAheadSeconds: 10, maxTokenLifetimeSeconds: 10, clockSkewSeconds: 0 }).keys;
  const twice = planRotation(once, 'third', T + 100, { publishAheadSeconds: 10, maxTokenLifetimeSeconds: 10, clockSkewSeconds: 0 });
  assert.deepEqual(
    twice.removed.map((key) => key.kid),
    ['first'],
  );
  assert.deepEqual(
    twice.keys.map((key) => key.kid),
    ['second', 'third'],
  );
  assert.equal(signingKeyAt(twice.keys, T + 109)?.kid, 'second');
  assert.equal(signingKeyAt(twice.keys, T + 110)?.kid, 'third');
});

test('through repeated rotations there is always exactly one signer, and it is published', () => {
  let keys: ScheduledKey[] = [first];
  for (let step = 1; step <= 5; step++) {
    const at = T + step * 100;
    keys = planRotation(keys, `k${step}`, at, { publishAheadSeconds: 30, maxTokenLifetimeSeconds: 50 }).keys as ScheduledKey[];
    // From this rotation until the next one, with the schedule as it now stands.
    for (let now = at; now < at + 100; now += 7) {
      const signer = signingKeyAt(keys, now);
      assert.ok(signer !== undefined, `no signer at +${now - T}`);
      assert.equal(signer.kid, now < at + 30 ? (step === 1 ? 'first' : `k${step - 1}`) : `k${step}`);
      assert.ok(publishedKeysAt(keys, now).includes(signer), `signer ${signer.kid} unpublished at +${now - T}`);
    }
  }
});
