import { SERVER_LIMIT_DEFAULTS, type ServerLimits } from '../server/limits.js';

/**
 * How each server limit is spelled outside the library: `--headers-timeout` on the command line,
 * `headers_timeout` in a configuration file, whole seconds for timeouts. One table, so a flag and
 * its configuration key always take the same values.
 */
export interface LimitSetting {
  option: keyof ServerLimits;
  /** The flag without `--`; the configuration key is the same with `_` for `-`. */
  name: string;
  /** Given in seconds, held in milliseconds. */
  seconds: boolean;
  min: number;
  max: number;
}

export const LIMIT_SETTINGS: readonly LimitSetting[] = [
  { option: 'handshakeTimeoutMs', name: 'handshake-timeout', seconds: true, min: 1, max: 3600 },
  { option: 'headersTimeoutMs', name: 'headers-timeout', seconds: true, min: 1, max: 3600 },
  { option: 'requestTimeoutMs', name: 'request-timeout', seconds: true, min: 1, max: 3600 },
  { option: 'keepAliveTimeoutMs', name: 'keep-alive-timeout', seconds: true, min: 1, max: 3600 },
  { option: 'maxHeaderSize', name: 'max-header-size', seconds: false, min: 1024, max: 1024 * 1024 },
  { option: 'maxInFlight', name: 'max-in-flight', seconds: false, min: 0, max: 1_000_000 },
  { option: 'maxConnections', name: 'max-connections', seconds: false, min: 0, max: 1_000_000 },
];

/** The limits that also apply to the gRPC server (grpc-js has no HTTP/1.1 request timeouts). */
export const GRPC_LIMITS: ReadonlySet<keyof ServerLimits> = new Set(['handshakeTimeoutMs', 'maxConnections']);

/**
 * A limit's value in the library's unit, or a sentence saying what is wrong with it.
 * @param raw a flag's text or a configuration file's number.
 */
export function limitValue(setting: LimitSetting, raw: unknown): number | string {
  const text = typeof raw === 'number' ? String(raw) : raw;
  if (typeof text !== 'string' || !/^\d{1,9}$/.test(text) || Number(text) < setting.min || Number(text) > setting.max) {
    return `must be an integer from ${setting.min} to ${setting.max}`;
  }
  return setting.seconds ? Number(text) * 1000 : Number(text);
}

/** The headers must fit within the request timeout (Node's own rule), defaults included. */
export function headersOutlastRequest(limits: ServerLimits): boolean {
  const headers = limits.headersTimeoutMs ?? SERVER_LIMIT_DEFAULTS.headersTimeoutMs;
  const request = limits.requestTimeoutMs ?? SERVER_LIMIT_DEFAULTS.requestTimeoutMs;
  return headers > request;
}
