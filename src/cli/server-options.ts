import type { ServerLimits } from '../http/https-server.js';
import { loadTlsFiles, type TlsFiles, type TlsPaths } from '../keys/files.js';
import { optionalString, stringList, type Parsed } from './args.js';
import { UsageError } from './errors.js';

/** Flags every certbound server takes: revocation, limits and the shutdown deadline. */
export const SERVER_OPTIONS = {
  'tls-crl': { type: 'string', multiple: true },
  'max-header-size': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'keep-alive-timeout': { type: 'string' },
  'max-in-flight': { type: 'string' },
  'drain-timeout': { type: 'string' },
} as const;

export const SERVER_OPTIONS_USAGE = `  Every server: --tls-crl FILE (repeatable) refuses revoked client certificates; SIGHUP re-reads
  the TLS certificate, key, CA bundle and CRLs (and keys, see docs/cli.md) without dropping a
  request. Limits: --max-header-size BYTES (16384) --headers-timeout S (10) --request-timeout S
  (30) --keep-alive-timeout S (5) --max-in-flight N (1024; beyond it 503, 0 = off)
  --drain-timeout S (10: on SIGTERM, in-flight requests get this long before connections drop).`;

/** An integer flag within [min, max], or undefined when absent. */
export function integerFlag(command: string, parsed: Parsed, name: string, min: number, max: number): number | undefined {
  const raw = optionalString(parsed, name);
  if (raw === undefined) return undefined;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new UsageError(`${command}: --${name} must be an integer from ${min} to ${max}`);
  return Number(raw);
}

const seconds = (value: number | undefined): number | undefined => (value === undefined ? undefined : value * 1000);

/** The HTTPS server limits the flags ask for (defaults where absent). */
export function serverLimitsOf(command: string, parsed: Parsed): ServerLimits {
  const limits: ServerLimits = {
    maxHeaderSize: integerFlag(command, parsed, 'max-header-size', 1024, 1024 * 1024),
    headersTimeoutMs: seconds(integerFlag(command, parsed, 'headers-timeout', 1, 3600)),
    requestTimeoutMs: seconds(integerFlag(command, parsed, 'request-timeout', 1, 3600)),
    keepAliveTimeoutMs: seconds(integerFlag(command, parsed, 'keep-alive-timeout', 1, 3600)),
    maxInFlight: integerFlag(command, parsed, 'max-in-flight', 0, 1_000_000),
  } as ServerLimits;
  if ((limits.headersTimeoutMs ?? 0) > (limits.requestTimeoutMs ?? Number.POSITIVE_INFINITY)) {
    throw new UsageError(`${command}: --headers-timeout must not exceed --request-timeout`);
  }
  return limits;
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
