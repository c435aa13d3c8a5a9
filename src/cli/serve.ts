import type { Server as TlsServer } from 'node:tls';
import { OperationFailed } from './errors.js';
import { announceReady, isWorker, onShutdownRequest } from './workers.js';
import { DEFAULTS } from '../defaults.js';
import type { Operations } from './operations.js';

/** Ask for this long to drain in-flight requests on SIGTERM/SIGINT before dropping connections. */
export const DRAIN_DEADLINE_MS = DEFAULTS.server.drainTimeoutMs;

/** What the CLI can serve: the HTTPS servers and the gRPC server alike. */
export interface Servable {
  /** Listen and resolve to the base URL (https://host:port). */
  listen(port: number, host: string): Promise<URL>;
  /** Stop accepting and finish in-flight work. */
  close(): Promise<void>;
  /** Drop whatever is still open. */
  forceClose(): void;
}

/**
 * Listen, print one ready line containing the URL, log events as JSON lines on stderr, and drain
 * then exit 0 on SIGTERM or SIGINT.
 */
export async function serveUntilSignalled(
  name: string,
  managed: Servable,
  port: number,
  host: string,
  extra = '',
  drainTimeoutMs: number = DRAIN_DEADLINE_MS,
  operations?: Pick<Operations, 'listening' | 'draining' | 'close'>,
): Promise<number> {
  let url: URL;
  try {
    url = await managed.listen(port, host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const why =
      {
        EADDRINUSE: 'address already in use',
        EACCES: 'permission denied',
        EADDRNOTAVAIL: 'address not available',
        ENOTFOUND: 'unknown host',
        EEXIST: 'a file that is not a socket is in the way',
      }[code] ?? code;
    const where = host.startsWith('/') ? host : `${host.includes(':') ? `[${host}]` : host}:${port}`;
    throw new OperationFailed(`cannot listen on ${where}: ${why}`);
  }
  operations?.listening();
  return new Promise((resolve) => {
    let stopping = false;
    let uninstall = (): void => {};
    const onSignal = (): void => {
      // A second signal while draining: stop waiting for in-flight work.
      if (stopping) {
        managed.forceClose();
        return;
      }
      stopping = true;
      // /readyz says so at once: a load balancer stops sending while in-flight work finishes.
      operations?.draining();
      const deadline = setTimeout(() => managed.forceClose(), drainTimeoutMs);
      deadline.unref();
      const done = (): void => {
        uninstall();
        void (operations?.close() ?? Promise.resolve()).then(() => resolve(0));
      };
      managed.close().then(done, done);
    };
    if (isWorker()) {
      // Under --workers the primary owns the signals and the ready line.
      uninstall = onShutdownRequest(onSignal);
      announceReady(url, extra);
      return;
    }
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    uninstall = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    };
    // Only now announce readiness: the kernel applies a signal's default action (terminate) if it
    // arrives before the handler is installed, and whoever reads this line may signal at once.
    process.stdout.write(`certbound ${name} listening on ${url.protocol === 'unix:' ? url.href : url.origin}${extra}\n`);
  });
}

/** Servers log through src/cli/log.ts; re-exported here, where the commands find it. */
export { logEvent } from './log.js';

/**
 * Log handshakes that failed because the server's own key in a PKCS#11 token could not sign
 * (the token was removed or its device stopped): `tls.key_failed` with OpenSSL's reason. Other
 * handshake failures (scanners, bad clients) stay unlogged, as before.
 */
export function logTokenKeyFailures(server: TlsServer, log: (event: object) => void): void {
  server.on('tlsClientError', (error: Error) => {
    if (error.message.includes('PKCS#11 module')) log({ type: 'tls.key_failed', detail: error.message });
  });
}
