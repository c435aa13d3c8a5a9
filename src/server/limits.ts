import { DEFAULTS } from '../defaults.js';

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

/** The limits' defaults: DEFAULTS.server (src/defaults.ts), where each has its reason. */
export const SERVER_LIMIT_DEFAULTS = {
  headersTimeoutMs: DEFAULTS.server.headersTimeoutMs,
  requestTimeoutMs: DEFAULTS.server.requestTimeoutMs,
  keepAliveTimeoutMs: DEFAULTS.server.keepAliveTimeoutMs,
  maxHeaderSize: DEFAULTS.server.maxHeaderSize,
  maxInFlight: DEFAULTS.server.maxInFlight,
  handshakeTimeoutMs: DEFAULTS.server.handshakeTimeoutMs,
  maxConnections: DEFAULTS.server.maxConnections,
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

