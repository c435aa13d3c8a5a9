import { pino, type DestinationStream, type Logger } from 'pino';
import { batchedStderr } from './batched-stderr.js';
import { isLogLevel, levelOfEvent, type LogLevel } from './log-levels.js';
import { prettyLine } from './log-pretty.js';
import { isWorker } from './workers.js';

export { LOG_LEVELS, type LogLevel } from './log-levels.js';

/**
 * Defence in depth: no event carries these (events are built field by field, never from a request
 * or an options object), but if one ever did, its value is replaced rather than written. Events
 * are flat, so the top level is where to look: a `*.field` wildcard as well costs about 12 µs of
 * CPU a line (bench/log-cost.ts), 5% of what issuing a token costs.
 */
const REDACTED_FIELDS = [
  'authorization',
  'token',
  'access_token',
  'subject_token',
  'actor_token',
  'client_secret',
  'password',
  'pin',
  'key',
];

/**
 * The level a server logs at: `--log-level`, CERTBOUND_LOG_LEVEL or the file's `log_level` (read
 * into `configured` by the settings, in that order, and checked there), else info.
 */
export function logLevelOf(configured: unknown): LogLevel {
  return isLogLevel(configured) ? configured : 'info';
}

let destination: DestinationStream | undefined;

/**
 * stderr, shared by every logger of the process: JSON lines, batched (src/cli/batched-stderr.ts),
 * or on a terminal the human form, line by line.
 */
function stderr(): DestinationStream {
  destination ??= process.stderr.isTTY ? { write: (line: string) => void process.stderr.write(prettyLine(line)) } : batchedStderr();
  return destination;
}

/** A pino logger for one server: `{"level":"info","time":ISO,"service":NAME,["pid":N,]...}` lines. */
export function createLogger(service: string, level: LogLevel): Logger {
  return pino(
    {
      level,
      // Under --workers each worker logs for itself; `pid` tells their lines apart.
      base: isWorker() ? { service, pid: process.pid } : { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_FIELDS, censor: '[redacted]' },
    },
    stderr(),
  );
}

/**
 * One JSON line per event on stderr, at the event's level (src/cli/log-levels.ts). The events of
 * a request carry its `requestId`. Events never carry tokens or keys.
 */
export function logEvent(service: string, level: LogLevel = logLevelOf(undefined)): (event: object) => void {
  const logger = createLogger(service, level);
  return (event) => {
    logger[levelOfEvent((event as { type?: unknown }).type)](event);
  };
}
