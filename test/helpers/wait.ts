import type { EventEmitter } from 'node:events';

/** How long a test waits for an event before it fails instead of hanging. */
export const WAIT_TIMEOUT_MS = 5000;

export interface WaitOptions {
  /** Reject after this long (default WAIT_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Reject as soon as `emitter` emits one of these (e.g. 'end' of a stream that can carry no more). */
  failOn?: readonly string[];
  /** Added to the rejection message (e.g. what the process logged so far). */
  context?: () => string;
}

/**
 * Resolve once `condition()` holds. It is checked now and again each time `emitter` emits
 * `event`: the test waits on what it is waiting for, never on a timer. The timeout is only an
 * upper bound, so that a test fails rather than hangs.
 */
export function whenever(
  emitter: EventEmitter,
  event: string | readonly string[],
  condition: () => boolean,
  what: string,
  options: WaitOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? WAIT_TIMEOUT_MS;
  const events = typeof event === 'string' ? [event] : event;
  const failOn = options.failOn ?? [];
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      for (const name of events) emitter.off(name, check);
      for (const name of failOn) emitter.off(name, fail);
    };
    const rejectWith = (why: string): void => {
      cleanup();
      const context = options.context?.() ?? '';
      reject(new Error(`${what}: ${why}${context === '' ? '' : `\n${context}`}`));
    };
    function check(): void {
      let holds: boolean;
      try {
        holds = condition();
      } catch (error) {
        cleanup();
        reject(error as Error);
        return;
      }
      if (!holds) return;
      cleanup();
      resolve();
    }
    function fail(): void {
      // The emitter's own listeners ran first: a last event may still have met the condition.
      if (condition()) {
        cleanup();
        resolve();
        return;
      }
      rejectWith(`${failOn.join('/')} before it happened`);
    }
    const timer = setTimeout(() => rejectWith(`not within ${timeoutMs} ms`), timeoutMs);
    for (const name of events) emitter.on(name, check);
    for (const name of failOn) emitter.on(name, fail);
    check();
  });
}

/** The arguments of the next `event` from `emitter`; rejects after `timeoutMs` (or on `error`). */
export function nextEvent<T extends unknown[] = unknown[]>(
  emitter: EventEmitter,
  event: string,
  what: string,
  timeoutMs = WAIT_TIMEOUT_MS,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      emitter.off('error', onError);
    };
    const onEvent = (...args: unknown[]): void => {
      cleanup();
      resolve(args as T);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new Error(`${what}: ${error.message}`, { cause: error }));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: not within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.on(event, onEvent);
    if (event !== 'error') emitter.on('error', onError);
  });
}
