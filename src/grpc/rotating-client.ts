import type { ClientIdentity, ClientIdentitySnapshot } from '../client/client-identity.js';
import { DEFAULTS } from '../defaults.js';

/** A gRPC client that is rebuilt, with a new channel, when the client certificate changes. */
export interface RotatingClient<C extends { close(): void }> {
  /** The client for the current certificate; take it for each call (or batch of calls). */
  current(): C;
  /** Close every client built, at once. */
  close(): void;
}

/**
 * A grpc-js channel keeps the credentials it was made with, and each of its connections the
 * certificate of its handshake; so following a rotation means a new channel. The previous client
 * is closed after a grace period: closing a grpc-js channel fails the calls still waiting for a
 * connection, while calls already under way finish on their connections.
 */
export function createRotatingClient<C extends { close(): void }>(
  identity: ClientIdentity,
  build: (snapshot: ClientIdentitySnapshot) => C,
  drainMs: number = DEFAULTS.client.rotationDrainMs,
): RotatingClient<C> {
  let snapshot = identity.current();
  let client = build(snapshot);
  const retiring = new Map<C, NodeJS.Timeout>();
  let closed = false;
  return {
    // Built when asked for, not on the change event: a burst of changes builds one client.
    current() {
      if (closed) throw new Error('this rotating gRPC client has been closed');
      const now = identity.current();
      if (now !== snapshot) {
        const previous = client;
        client = build(now);
        snapshot = now;
        const timer = setTimeout(() => {
          retiring.delete(previous);
          previous.close();
        }, drainMs);
        // A client waiting to be closed is no reason to keep the process alive.
        timer.unref();
        retiring.set(previous, timer);
      }
      return client;
    },
    close() {
      if (closed) return;
      closed = true;
      for (const [previous, timer] of retiring) {
        clearTimeout(timer);
        previous.close();
      }
      retiring.clear();
      client.close();
    },
  };
}
