import * as v from 'valibot';
import { ConfigError } from '../core/config-error.js';
import { DEFAULTS } from '../defaults.js';
import { librarySchema, type OptionSpec } from './option.js';
import { parseWith } from '../core/schema.js';

/** Limits every certbound server applies (the HTTP ones by the HTTPS servers only); defaults in DEFAULTS.server. */
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

const seconds = (min: number, max: number) => ({ kind: 'seconds', min, max }) as const;
const count = (min: number, max: number) => ({ kind: 'integer', min, max }) as const;

/** The limits as settings: their flags, configuration keys and ranges, once. */
export const LIMIT_OPTIONS = [
  {
    option: 'handshakeTimeoutMs',
    key: 'limits.handshake_timeout',
    flag: 'handshake-timeout',
    type: seconds(1, 3600),
    doc: 'TCP accept to finished TLS handshake (default: the headers timeout)',
  },
  {
    option: 'headersTimeoutMs',
    key: 'limits.headers_timeout',
    flag: 'headers-timeout',
    type: seconds(1, 3600),
    doc: 'request line and headers, else 408 and close',
  },
  {
    option: 'requestTimeoutMs',
    key: 'limits.request_timeout',
    flag: 'request-timeout',
    type: seconds(1, 3600),
    doc: 'the whole request, body included',
  },
  {
    option: 'keepAliveTimeoutMs',
    key: 'limits.keep_alive_timeout',
    flag: 'keep-alive-timeout',
    type: seconds(1, 3600),
    doc: 'idle keep-alive connections close after this',
  },
  {
    option: 'maxHeaderSize',
    key: 'limits.max_header_size',
    flag: 'max-header-size',
    type: count(1024, 1024 * 1024),
    doc: 'bytes of request head, else 431',
  },
  {
    option: 'maxInFlight',
    key: 'limits.max_in_flight',
    flag: 'max-in-flight',
    type: count(0, 1_000_000),
    doc: 'requests at once, else 503 with Retry-After; 0 = off',
  },
  {
    option: 'maxConnections',
    key: 'limits.max_connections',
    flag: 'max-connections',
    type: count(0, 1_000_000),
    doc: 'open connections per process, else closed at accept; 0 = off',
  },
] as const satisfies readonly (OptionSpec & { option: keyof ServerLimits })[];

/** The limits that also apply to the gRPC server (grpc-js has no HTTP/1.1 request timeouts). */
export const GRPC_LIMITS: ReadonlySet<keyof ServerLimits> = new Set(['handshakeTimeoutMs', 'maxConnections']);

/** The defaults of every limit (DEFAULTS.server, where the reasons are). */
export const SERVER_LIMIT_DEFAULTS = {
  headersTimeoutMs: DEFAULTS.server.headersTimeoutMs,
  requestTimeoutMs: DEFAULTS.server.requestTimeoutMs,
  keepAliveTimeoutMs: DEFAULTS.server.keepAliveTimeoutMs,
  maxHeaderSize: DEFAULTS.server.maxHeaderSize,
  maxInFlight: DEFAULTS.server.maxInFlight,
  handshakeTimeoutMs: DEFAULTS.server.handshakeTimeoutMs,
  maxConnections: DEFAULTS.server.maxConnections,
} as const satisfies Required<ServerLimits>;

const LIMITS_SCHEMA = v.object(Object.fromEntries(LIMIT_OPTIONS.map((spec) => [spec.option, v.optional(librarySchema(spec.type))])));

/** The headers must fit within the request timeout (Node's own rule), defaults included. */
export function headersOutlastRequest(limits: ServerLimits): boolean {
  const headers = limits.headersTimeoutMs ?? SERVER_LIMIT_DEFAULTS.headersTimeoutMs;
  const request = limits.requestTimeoutMs ?? SERVER_LIMIT_DEFAULTS.requestTimeoutMs;
  return headers > request;
}

/**
 * The limits with defaults filled in, each checked.
 * @throws ConfigError naming the limit.
 */
export function resolveServerLimits(limits: ServerLimits = {}): Required<ServerLimits> {
  const given = parseWith(LIMITS_SCHEMA, limits ?? {}, '', (path, problem) => new ConfigError(path, problem)) as ServerLimits;
  if (headersOutlastRequest(given)) throw new ConfigError('headersTimeoutMs', 'must not exceed "requestTimeoutMs"');
  const set = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
  // The handshake gets as long as the headers unless told otherwise: both bound a silent peer.
  return { ...SERVER_LIMIT_DEFAULTS, handshakeTimeoutMs: given.headersTimeoutMs ?? SERVER_LIMIT_DEFAULTS.handshakeTimeoutMs, ...set };
}
