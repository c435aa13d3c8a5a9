import { SERVER_LIMIT_DEFAULTS, type ServerLimits } from '../server/limits.js';
import { headersOutlastRequest, LIMIT_SETTINGS, limitValue } from '../config/limit-settings.js';
import { loadTlsFiles, type TlsFiles, type TlsPaths } from '../files/tls-files.js';
import { optionalString, stringList, type Parsed } from './args.js';
import { UsageError } from './errors.js';

/** Flags every certbound server takes: revocation, limits and the shutdown deadline. */
export const SERVER_OPTIONS = {
  'tls-crl': { type: 'string', multiple: true },
  ...(Object.fromEntries(LIMIT_SETTINGS.map((setting) => [setting.name, { type: 'string' }])) as Record<string, { type: 'string' }>),
  'drain-timeout': { type: 'string' },
} as const;

const D = SERVER_LIMIT_DEFAULTS;
export const SERVER_OPTIONS_USAGE = `  Every server: --tls-crl FILE (repeatable) refuses revoked client certificates; SIGHUP re-reads
  the TLS certificate, key, CA bundle and CRLs (and keys, see docs/cli.md) without dropping a
  request. Limits: --handshake-timeout S (default: --headers-timeout) --max-connections N
  (${D.maxConnections}; beyond it new connections are closed at accept, 0 = off) --max-header-size BYTES
  (${D.maxHeaderSize}) --headers-timeout S (${D.headersTimeoutMs / 1000}) --request-timeout S (${D.requestTimeoutMs / 1000}) --keep-alive-timeout S (${D.keepAliveTimeoutMs / 1000})
  --max-in-flight N (${D.maxInFlight}; beyond it 503, 0 = off) --drain-timeout S (10: on SIGTERM, in-flight
  requests get this long before connections drop).`;

/** An integer flag within [min, max], or undefined when absent. */
export function integerFlag(command: string, parsed: Parsed, name: string, min: number, max: number): number | undefined {
  const raw = optionalString(parsed, name);
  if (raw === undefined) return undefined;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new UsageError(`${command}: --${name} must be an integer from ${min} to ${max}`);
  return Number(raw);
}

const seconds = (value: number | undefined): number | undefined => (value === undefined ? undefined : value * 1000);

/**
 * The server limits the flags set (absent ones are left out, so a configuration file's values or
 * the defaults apply). `only` restricts them to the limits a server has (gRPC).
 */
export function serverLimitsOf(command: string, parsed: Parsed, only?: ReadonlySet<keyof ServerLimits>): ServerLimits {
  const limits: ServerLimits = {};
  for (const setting of LIMIT_SETTINGS) {
    const raw = optionalString(parsed, setting.name);
    if (raw === undefined) continue;
    if (only !== undefined && !only.has(setting.option)) throw new UsageError(`${command}: --${setting.name} applies to the HTTPS servers only (gRPC has --max-streams)`);
    const value = limitValue(setting, raw);
    if (typeof value === 'string') throw new UsageError(`${command}: --${setting.name} ${value}`);
    limits[setting.option] = value;
  }
  return limits;
}

/** Flags over file: the merged limits, checked together. */
export function mergeLimits(command: string, ...layers: ServerLimits[]): ServerLimits {
  const merged: ServerLimits = Object.assign({}, ...layers);
  if (headersOutlastRequest(merged)) throw new UsageError(`${command}: --headers-timeout must not exceed --request-timeout`);
  return merged;
}

/** --drain-timeout in ms, if given. */
export function drainTimeoutOf(command: string, parsed: Parsed): number | undefined {
  return seconds(integerFlag(command, parsed, 'drain-timeout', 0, 3600));
}

/** The CRL paths from --tls-crl. */
export function crlPathsOf(parsed: Parsed): string[] {
  return stringList(parsed, 'tls-crl');
}

/** Re-reads a server's TLS files (checked the same way as at start) for a SIGHUP reload. */
export function tlsReloader(paths: TlsPaths, apply: (tls: TlsFiles) => void): () => Promise<void> {
  return async () => apply(await loadTlsFiles(paths));
}
