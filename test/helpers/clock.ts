/**
 * A clock for code that takes injectable `now` and `sleep` (the token source's retry backoff):
 * a sleep returns at once and moves the clock on by what was asked, so retries are exercised
 * without waiting real time, and every wait is recorded for the test to check.
 */
export interface SteppedClock {
  /** Milliseconds since the epoch, as `now()` reports it. */
  ms: number;
  /** The `sleep` calls so far, in ms. */
  readonly slept: number[];
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export function steppedClock(start = Date.now()): SteppedClock {
  const clock: SteppedClock = {
    ms: start,
    slept: [],
    now: () => clock.ms,
    sleep: (ms) => {
      clock.slept.push(ms);
      clock.ms += ms;
      return Promise.resolve();
    },
  };
  return clock;
}
