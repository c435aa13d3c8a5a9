import { LOG_LEVEL_SETTING } from '../config/server-settings.js';

/** The levels of `--log-level`, most verbose first (pino's). `silent` logs nothing. */
export const LOG_LEVELS = LOG_LEVEL_SETTING.type.values;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type EventLevel = Exclude<LogLevel, 'silent'>;

/**
 * The level of each event, by its `type` (docs/logging.md has the table). `info` is the audit
 * trail: every decision about a token or a request, and every reload that worked. `warn` is
 * something an operator should look at while the server still serves as before (a reload or a
 * key fetch that failed, a worker that died). `error` is a server that cannot do its job for
 * some requests: an internal failure, keys past their staleness limit, a key in a token that
 * stopped signing. Types not listed are `info`.
 */
const LEVEL_OF_TYPE: Readonly<Record<string, EventLevel>> = {
  'server.error': 'error',
  'request.failed': 'error',
  'jwks.expired': 'error',
  'tls.key_failed': 'error',
  'jwks.fetch_failed': 'warn',
  'keystore.reload_failed': 'warn',
  'worker.exited': 'warn',
};

/** The level an event is logged at: `*.reload_failed` warn, the table above, else info. */
export function levelOfEvent(type: unknown): EventLevel {
  if (typeof type !== 'string') return 'info';
  return LEVEL_OF_TYPE[type] ?? (type.endsWith('.reload_failed') ? 'warn' : 'info');
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}
