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

