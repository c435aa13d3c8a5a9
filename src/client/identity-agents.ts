import type { Agent } from 'undici';
import type { ClientIdentity, ClientIdentitySnapshot } from './client-identity.js';
import { createMtlsAgent } from './mtls-agent.js';

/** mTLS agents, one per identity snapshot, each presenting exactly that snapshot's certificate. */
export interface IdentityAgents {
  /**
   * Run `send` with the agent of `snapshot`. An agent whose snapshot has been replaced is closed,
   * gracefully (requests on it finish), once nothing uses it any more.
   */
  use<T>(snapshot: ClientIdentitySnapshot, send: (agent: Agent) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Agents that follow `identity`: a new certificate means new connections, never an old connection
 * (which keeps the certificate of its handshake) carrying a token for the new one.
 */
export function createIdentityAgents(identity: ClientIdentity, servername: string | undefined): IdentityAgents {
  const agents = new Map<ClientIdentitySnapshot, { agent: Agent; users: number }>();
  const closing = new Set<Promise<void>>();
  const retire = (snapshot: ClientIdentitySnapshot): void => {
    const entry = agents.get(snapshot);
    if (entry === undefined || entry.users > 0 || snapshot === identity.current()) return;
    agents.delete(snapshot);
    const closed = entry.agent.close().catch(() => {});
    closing.add(closed);
    void closed.finally(() => closing.delete(closed));
  };
  const stop = identity.onChange(() => {
    for (const snapshot of [...agents.keys()]) retire(snapshot);
  });
  return {
    async use(snapshot, send) {
      let entry = agents.get(snapshot);
      if (entry === undefined) {
        const agent = createMtlsAgent({
          cert: snapshot.cert,
          key: snapshot.key,
          ...(snapshot.ca === undefined ? {} : { ca: snapshot.ca }),
          ...(servername === undefined ? {} : { servername }),
        });
        entry = { agent, users: 0 };
        agents.set(snapshot, entry);
      }
      entry.users++;
      try {
        return await send(entry.agent);
      } finally {
        entry.users--;
        retire(snapshot);
      }
    },
    async close() {
      stop();
      const open = [...agents.values()].map((entry) => entry.agent.close().catch(() => {}));
      agents.clear();
      await Promise.all([...open, ...closing]);
    },
  };
}
