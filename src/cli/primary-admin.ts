import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { AdminServer } from '../metrics/admin-server.js';
import type { ServerName } from '../metrics/families.js';
import { observeEvents } from '../metrics/observe-events.js';
import { createServerMetrics } from '../metrics/server-metrics.js';
import { listenAdmin, READINESS_ANSWER, READINESS_REQUEST, type AdminSettings } from './operations.js';

/** How long the primary waits for a worker's readiness before counting it as not ready. */
const WORKER_ANSWER_MS = 2000;

export interface PrimaryAdmin {
  /** The primary's onEvent: its own events (worker restarts) counted. */
  observe: (event: object) => void;
  url: URL;
  close(): Promise<void>;
}

/**
 * The admin listener of a --workers cluster, on the primary: /metrics is the sum of the workers'
 * metrics (prom-client's cluster aggregation; ages and other gauges by their own aggregator) and
 * the primary's own; /readyz is ready when every worker is and the cluster is not draining.
 */
export async function startPrimaryAdmin(
  server: ServerName,
  settings: AdminSettings,
  state: { expected: number; ready: () => readonly Worker[]; stopping: () => boolean },
): Promise<PrimaryAdmin> {
  const own = createServerMetrics(server, 'primary');
  const aggregator = new AggregatorRegistry();
  let next = 0;
  const askWorker = (worker: Worker): Promise<string[]> =>
    new Promise((resolve) => {
      const id = next++;
      const timer = setTimeout(() => finish([`worker ${worker.process.pid} did not answer`]), WORKER_ANSWER_MS);
      const onMessage = (message: unknown): void => {
        const answer = message as { type?: unknown; id?: unknown; reasons?: unknown } | null;
        if (answer?.type === READINESS_ANSWER && answer.id === id)
          finish(Array.isArray(answer.reasons) ? (answer.reasons as string[]) : []);
      };
      const finish = (reasons: string[]): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        resolve(reasons.map((reason) => `worker ${worker.process.pid}: ${reason}`));
      };
      worker.on('message', onMessage);
      worker.send({ type: READINESS_REQUEST, id });
    });
  const admin: AdminServer = await listenAdmin(
    {
      metrics: async () => ({
        contentType: aggregator.contentType,
        body: `${await aggregator.clusterMetrics()}\n${await own.registry.metrics()}`,
      }),
      notReady: async () => {
        if (state.stopping()) return ['draining'];
        const workers = state.ready();
        const missing = workers.length < state.expected ? [`${workers.length} of ${state.expected} workers running`] : [];
        return [...missing, ...(await Promise.all(workers.map(askWorker))).flat()];
      },
    },
    settings,
  );
  return { observe: observeEvents(own), url: admin.url, close: () => admin.close() };
}
