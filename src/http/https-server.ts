import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { CertboundError } from '../core/errors.js';
import { HEALTH_PATH } from '../core/rfc.js';
import { sendOAuthError } from './respond.js';

export interface ServerTlsOptions {
  /** CA bundle client certificates are verified against (PEM). */
  ca: string | Buffer;
  /** The server's own certificate (chain) and private key (PEM). */
  cert: string | Buffer;
  key: string | Buffer;
  /**
   * Certificate revocation lists (PEM), one per CA that issues client certificates. With a CRL,
   * a revoked client certificate fails verification; so does one whose CA has no CRL here.
   */
  crl?: string | Buffer | Array<string | Buffer>;
}

/** Limits every certbound HTTPS server applies; each default has its reason. */
export interface ServerLimits {
  /** Time to receive a request's complete headers, in ms: slow-loris headers are cut off. */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, body included, in ms: slow-loris bodies are cut off. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open, in ms. */
  keepAliveTimeoutMs?: number;
  /** Largest request head (request line and headers) in bytes; larger gets 431. */
  maxHeaderSize?: number;
  /** Requests handled at once beyond which new ones get 503 at once (load shedding); 0 = off. */
  maxInFlight?: number;
  /**
   * Time from accepting a TCP connection to a finished TLS handshake, in ms (default: the headers
   * timeout). A peer that sends nothing, or half a ClientHello, is cut off after it.
   */
  handshakeTimeoutMs?: number;
  /** Open connections beyond which new ones are closed at accept; 0 = no limit. */
  maxConnections?: number;
}

export const SERVER_LIMIT_DEFAULTS = {
  /** Generous for any real client on a slow link, short enough that idle sockets are reclaimed. */
  headersTimeoutMs: 10_000,
  /** A token request is a few hundred bytes: 30 s is already very patient. */
  requestTimeoutMs: 30_000,
  /** Slightly above common client pools' idle timeouts (undici 4 s) to avoid reset races. */
  keepAliveTimeoutMs: 5_000,
  /** Node's own default; a bearer token of a few KiB fits many times over. */
  maxHeaderSize: 16 * 1024,
  /** Far above what two cores serve at once; a queue longer than this only adds latency. */
  maxInFlight: 1024,
  /** The headers timeout's reasoning holds for the handshake too (see resolveServerLimits). */
  handshakeTimeoutMs: 10_000,
  /**
   * Far above the pools of a fleet of clients, low enough that idle connections (tens of KiB of
   * TLS state each) cannot exhaust memory. Per process: with --workers N, N times this.
   */
  maxConnections: 4096,
} as const satisfies Required<ServerLimits>;

/** Limits that 0 switches off. */
const MAY_BE_ZERO: ReadonlySet<string> = new Set(['maxInFlight', 'maxConnections']);

/** The limits with defaults filled in, each checked. */
export function resolveServerLimits(limits: ServerLimits = {}): Required<ServerLimits> {
  const given = Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined)) as ServerLimits;
  // The handshake gets as long as the headers unless told otherwise: both bound a silent peer.
  const resolved = { ...SERVER_LIMIT_DEFAULTS, handshakeTimeoutMs: given.headersTimeoutMs ?? SERVER_LIMIT_DEFAULTS.handshakeTimeoutMs, ...given } as Required<ServerLimits>;
  for (const [name, value] of Object.entries(resolved)) {
    const minimum = MAY_BE_ZERO.has(name) ? 0 : 1;
    if (!Number.isInteger(value) || value < minimum) throw new TypeError(`"${name}" must be an integer >= ${minimum}`);
  }
  if (resolved.headersTimeoutMs > resolved.requestTimeoutMs) throw new TypeError('"headersTimeoutMs" must not exceed "requestTimeoutMs"');
  return resolved;
}

/** The oldest TLS version any certbound server accepts, whatever the runtime's default. */
export const TLS_MIN_VERSION = 'TLSv1.2';

/**
 * The server's secure context: TLS material plus the settings that must survive a reload. The one
 * place it is built, at start-up and for every reload (Node's setSecureContext resets every
 * setting it is not given, the TLS floor included).
 */
export function serverSecureContext(tls: ServerTlsOptions): SecureContextOptions {
  return { ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: TLS_MIN_VERSION, ...(tls.crl === undefined ? {} : { crl: tls.crl }) };
}

/**
 * TLS settings shared by certbound's servers: TLS 1.2 or later, client certificate requested and
 * verified against the CA, but not enforced at the handshake, so that public endpoints stay
 * reachable and a missing or untrusted certificate gets a clear HTTP answer, not a dropped
 * connection. Handlers check `authorized` themselves (see peer-certificate.ts). A handshake that
 * has not finished after the default handshake timeout is dropped.
 */
export function serverTlsOptions(tls: ServerTlsOptions): TlsOptions & { requestCert: true; rejectUnauthorized: false } {
  return { ...serverSecureContext(tls), requestCert: true, rejectUnauthorized: false, handshakeTimeout: SERVER_LIMIT_DEFAULTS.handshakeTimeoutMs };
}

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

/**
 * An HTTPS server with certbound's TLS settings and limits. Requests beyond `maxInFlight` are
 * answered 503 before any work (health checks excepted), so overload degrades into quick
 * refusals instead of a queue that times everyone out.
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
    resolved.maxInFlight === 0 ? handler : shedLoad(handler, resolved.maxInFlight),
  );
  server.keepAliveTimeout = resolved.keepAliveTimeoutMs;
  // Checked by node:net at accept: beyond it a new connection is closed before any TLS work.
  if (resolved.maxConnections > 0) server.maxConnections = resolved.maxConnections;
  return manageServer(server);
}

function shedLoad(handler: Handler, maxInFlight: number): Handler {
  let inFlight = 0;
  return (req, res) => {
    if (inFlight >= maxInFlight && (req.url ?? '/').split('?', 1)[0] !== HEALTH_PATH) {
      sendOAuthError(res, new CertboundError('CB_OVERLOADED', { description: 'server is overloaded, retry later' }), { headers: { 'retry-after': '1' } });
      return;
    }
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
    });
    handler(req, res);
  };
}

/** Listen on host:port and resolve to the https:// URL actually bound (IPv6 bracketed). */
export function listenOn(server: NetServer, port: number, host: string): Promise<URL> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve(new URL(`https://${hostPart}:${address.port}`));
    });
  });
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
    listen(port = 0, host = '127.0.0.1') {
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
