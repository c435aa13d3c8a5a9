import cluster from 'node:cluster';
import { AggregatorRegistry, type Gauge } from 'prom-client';
import { startAdminServer, type AdminServer } from '../metrics/admin-server.js';
import type { Server as NetServer } from 'node:net';
import type { BoundTokenVerifier } from '../core/verify.js';
import { cacheLookups, instrumentHttpServer, timedVerifier } from '../metrics/instrument.js';
import { observeEvents } from '../metrics/observe-events.js';
import type { ServerName } from '../metrics/families.js';
import { createServerMetrics, type ServerMetrics } from '../metrics/server-metrics.js';
import type { JwksSource } from '../keys/jwks-source.js';
import { DEFAULTS } from '../defaults.js';
import { OperationFailed } from './errors.js';

/** A check of one thing a ready server needs: why it is not ready, or undefined. */
export type ReadyCheck = () => string | undefined;

/**
 * What a server process exposes to operators: its events logged and counted, the metrics
 * registry, and the readiness checks /readyz runs. Served on --admin-port by a single process;
 * under --workers each worker answers its primary, which serves the cluster's sum.
 */
export interface Operations {
  metrics: ServerMetrics;
  /** The server's onEvent: logs the event and counts it. */
  onEvent: (event: object) => void;
  addReadyCheck(check: ReadyCheck): void;
  /** The verification keys a token-checking server uses: their age is a metric, their use a ready check. */
  followJwks(keys: JwksSource): void;
  /** Count the server's handshakes, requests in flight and shed (when metrics are served). */
  countServer(server: NetServer): void;
  /** The verifier, timed, and the cache's lookup counter (when metrics are served). */
  timeVerifier(verifier: BoundTokenVerifier): BoundTokenVerifier;
  cacheLookups: ((hit: boolean) => void) | undefined;
  /** The server is listening (ready checks start to count) / draining (never ready again). */
  listening(): void;
  draining(): void;
  /** Why the process is not ready now; empty when it is. */
  notReady(): string[];
  close(): Promise<void>;
}

export interface AdminSettings {
  adminPort?: number | undefined;
  adminHost?: string | undefined;
}

export async function startOperations(server: ServerName, log: (event: object) => void, settings: AdminSettings): Promise<Operations> {
  let jwks: JwksSource | undefined;
  const metrics = createServerMetrics(server, 'server', {
    certbound_jwks_age_seconds: (gauge: Gauge) => {
      const loadedAt = jwks?.status().loadedAt;
      gauge.set(loadedAt === undefined ? 0 : (Date.now() - loadedAt) / 1000);
    },
    certbound_jwks_usable: (gauge: Gauge) => gauge.set(jwks?.status().usable === true ? 1 : 0),
  });
  // Without an admin listener nobody reads the metrics: count nothing (workers count for their primary's).
  const counting = settings.adminPort !== undefined;
  const observe = counting ? observeEvents(metrics) : () => {};
  const checks: ReadyCheck[] = [];
  let state: 'starting' | 'listening' | 'draining' = 'starting';
  const operations: Operations = {
    metrics,
    onEvent: counting
      ? (event) => {
          log(event);
          observe(event);
        }
      : log,
    countServer: (server) => {
      if (counting) instrumentHttpServer(server, metrics);
    },
    timeVerifier: (verifier) => (counting ? timedVerifier(verifier, metrics) : verifier),
    cacheLookups: counting ? cacheLookups(metrics) : undefined,
    addReadyCheck: (check) => void checks.push(check),
    followJwks(keys) {
      jwks = keys;
      checks.push(() => {
        const status = keys.status();
        if (status.usable) return undefined;
        // A URL is fetched on first use; a probe is a use, so the next probe can pass.
        keys.refresh().catch(() => {});
        return status.loadedAt === undefined ? 'JWKS not fetched yet' : 'JWKS keys are older than --jwks-max-stale';
      });
    },
    listening: () => {
      if (state === 'starting') state = 'listening';
    },
    draining: () => {
      state = 'draining';
    },
    notReady: () =>
      state === 'starting' ? ['not listening yet'] : state === 'draining' ? ['draining'] : checks.flatMap((check) => check() ?? []),
    close: async () => {},
  };
  if (cluster.isWorker) {
    answerPrimary(operations);
    return operations;
  }
  if (settings.adminPort === undefined) return operations;
  const admin = await listenAdmin(
    {
      metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      notReady: async () => operations.notReady(),
    },
    settings,
  );
  log({ type: 'admin.listening', url: admin.url.origin });
  operations.close = () => admin.close();
  return operations;
}

/** Start the admin listener, or say in one line why it cannot listen. */
export async function listenAdmin(endpoints: Parameters<typeof startAdminServer>[0], settings: AdminSettings): Promise<AdminServer> {
  const host = settings.adminHost ?? DEFAULTS.server.host;
  const port = settings.adminPort ?? 0;
  try {
    return await startAdminServer(endpoints, port, host);
  } catch (error) {
    throw new OperationFailed(`cannot listen on ${host}:${port} for --admin-port: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** The worker's side of the cluster's admin listener: its metrics and readiness, asked for over IPC. */
function answerPrimary(operations: Operations): void {
  AggregatorRegistry.setRegistries(operations.metrics.registry);
  // Its constructor installs prom-client's listener that answers the primary's metrics requests.
  new AggregatorRegistry();
  process.on('message', (message: unknown) => {
    const request = message as { type?: unknown; id?: unknown } | null;
    if (request?.type !== READINESS_REQUEST) return;
    process.send?.({ type: READINESS_ANSWER, id: request.id, reasons: operations.notReady() });
  });
}

export const READINESS_REQUEST = 'certbound.readiness';
export const READINESS_ANSWER = 'certbound.readiness-answer';
