import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server as HttpsServer } from 'node:https';
import { CertboundError } from '../core/errors.js';
import { HEALTH_PATH } from '../core/rfc.js';
import { resolveServerLimits, type ServerLimits } from '../config/limits.js';
import { listenOn } from './listen.js';
import { withRequestIds } from './request-id.js';
import { sendOAuthError } from './respond.js';
import { serverSecureContext, serverTlsOptions, type ServerTlsOptions } from './tls.js';
import { DEFAULTS } from '../defaults.js';

export interface ManagedServer {
  server: HttpsServer;
  /** Listen on host:port (default 127.0.0.1:0) and resolve to the base URL. */
  listen(port?: number, host?: string): Promise<URL>;
  /** Stop accepting, let in-flight requests finish, close idle keep-alive connections. */
  close(): Promise<void>;
  /** Drop every connection now (after a drain deadline has passed). */
  forceClose(): void;
  /**
   * Use new TLS material (certificate, key, CA bundle, CRL) for every handshake from now on.
   * Connections already open keep theirs, so nothing in flight fails.
   */
  reloadTls(tls: ServerTlsOptions): void;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Emitted by the server for each request refused at `maxInFlight` (for metrics). */
export const LOAD_SHED_EVENT = 'certbound:load-shed';

/**
 * An HTTPS server with certbound's TLS settings and limits. Requests beyond `maxInFlight` are
 * answered 503 before any work (health checks excepted), so overload degrades into quick
 * refusals instead of a queue that times everyone out. Every request has an id (`X-Request-Id`,
 * src/server/request-id.ts), shed ones too.
 */
export function createLimitedHttpsServer(tls: ServerTlsOptions, limits: ServerLimits, handler: Handler): ManagedServer {
  const resolved = resolveServerLimits(limits);
  const server = createServer(
    {
      ...serverTlsOptions(tls),
      handshakeTimeout: resolved.handshakeTimeoutMs,
      headersTimeout: resolved.headersTimeoutMs,
      requestTimeout: resolved.requestTimeoutMs,
      maxHeaderSize: resolved.maxHeaderSize,
      // Node checks the two timeouts on this interval (default 30 s); check often enough that
      // they mean what they say.
      connectionsCheckingInterval: Math.min(1000, resolved.headersTimeoutMs),
    },
    withRequestIds(resolved.maxInFlight === 0 ? handler : shedLoad(handler, resolved.maxInFlight, () => server.emit(LOAD_SHED_EVENT))),
  );
  server.keepAliveTimeout = resolved.keepAliveTimeoutMs;
  // Checked by node:net at accept: beyond it a new connection is closed before any TLS work.
  if (resolved.maxConnections > 0) server.maxConnections = resolved.maxConnections;
  return manageServer(server);
}

function shedLoad(handler: Handler, maxInFlight: number, onShed: () => void): Handler {
  let inFlight = 0;
  return (req, res) => {
    if (inFlight >= maxInFlight && (req.url ?? '/').split('?', 1)[0] !== HEALTH_PATH) {
      onShed();
      sendOAuthError(
        res,
        new CertboundError('CB_OVERLOADED', {
          description: 'server is overloaded, retry later',
          retryAfterSeconds: DEFAULTS.server.overloadedRetryAfterSeconds,
        }),
      );
      return;
    }
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
    });
    handler(req, res);
  };
}

/** listen/close as promises, for every certbound HTTPS server. */
export function manageServer(server: HttpsServer): ManagedServer {
  // Responses not yet sent, so that a drain can tell their clients not to reuse the connection.
  const pending = new Set<ServerResponse>();
  let draining = false;
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (draining) res.setHeader('connection', 'close');
    pending.add(res);
    res.once('close', () => pending.delete(res));
  });
  return {
    server,
    listen(port = 0, host = DEFAULTS.server.host) {
      return listenOn(server, port, host);
    },
    close() {
      draining = true;
      for (const res of pending) if (!res.headersSent) res.setHeader('connection', 'close');
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
    forceClose() {
      server.closeAllConnections();
    },
    reloadTls(tls) {
      server.setSecureContext(serverSecureContext(tls));
    },
  };
}
