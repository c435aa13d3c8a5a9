import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createRateLimiter } from '../../src/core/rate-limit.js';

describe('createRateLimiter (token bucket per key)', () => {
  test('allows a burst, then refuses with the seconds until the next token; refills at perSecond', () => {
    const limiter = createRateLimiter({ perSecond: 2, burst: 3 });
    const at = 1_000_000;
    for (let i = 0; i < 3; i++) assert.deepEqual(limiter.take('a', at), { allowed: true });
    assert.deepEqual(limiter.take('a', at), { allowed: false, retryAfterSeconds: 1 });
    assert.deepEqual(limiter.take('a', at + 499), { allowed: false, retryAfterSeconds: 1 });
    assert.deepEqual(limiter.take('a', at + 500), { allowed: true });
    assert.deepEqual(limiter.take('b', at), { allowed: true }, 'keys are independent');
  });

  test('Retry-After rounds up to whole seconds for slow rates', () => {
    const limiter = createRateLimiter({ perSecond: 0.1, burst: 1 });
    limiter.take('a', 0);
    assert.deepEqual(limiter.take('a', 0), { allowed: false, retryAfterSeconds: 10 });
  });

  test('a clock that steps back refills nothing and never goes negative', () => {
    const limiter = createRateLimiter({ perSecond: 1, burst: 1 });
    assert.equal(limiter.take('a', 10_000).allowed, true);
    assert.equal(limiter.take('a', 0).allowed, false);
    assert.equal(limiter.take('a', 10_999).allowed, false);
    assert.equal(limiter.take('a', 11_000).allowed, true);
  });

  test('tracks at most maxKeys keys, forgetting the least recently seen', () => {
    const limiter = createRateLimiter({ perSecond: 1, burst: 1, maxKeys: 2 });
    limiter.take('a', 0);
    limiter.take('b', 0);
    limiter.take('a', 0); // a is now the most recent (and empty)
    limiter.take('c', 0); // b is forgotten
    assert.equal(limiter.size, 2);
    assert.equal(limiter.take('a', 0).allowed, false, 'a was kept, still empty');
    assert.equal(limiter.take('b', 0).allowed, true, 'b starts again with a full bucket');
  });

  test('bad options are refused', () => {
    assert.throws(() => createRateLimiter({ perSecond: 0, burst: 1 }), /perSecond/);
    assert.throws(() => createRateLimiter({ perSecond: Number.NaN, burst: 1 }), /perSecond/);
    assert.throws(() => createRateLimiter({ perSecond: 1, burst: 0.5 }), /burst/);
    assert.throws(() => createRateLimiter({ perSecond: 1, burst: 1, maxKeys: 0 }), /maxKeys/);
  });

  test('property: over any window, allowed requests never exceed burst + perSecond × elapsed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 200 }),
        (perSecond, burst, gaps) => {
          const limiter = createRateLimiter({ perSecond, burst });
          let now = 0;
          let allowed = 0;
          for (const gap of gaps) {
            now += gap;
            if (limiter.take('k', now).allowed) allowed++;
          }
          return allowed <= burst + (perSecond * now) / 1000 + 1e-9;
        },
      ),
      { numRuns: 300 },
    );
  });
});
