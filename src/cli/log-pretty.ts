/**
 * The human form of a log line, for a terminal: `12:04:05.123 INFO  sts token.issued
 * clientId=alice ... requestId=...`. It formats certbound's own JSON lines (flat objects written
 * by src/cli/log.ts), nothing else. Any value that is not plain printable ASCII is written as a
 * JSON string, so a client-chosen text (an error detail) cannot move the cursor or colour the
 * terminal.
 */
export function prettyLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, service, pid, type, ...rest } = record;
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const who = pid === undefined ? printable(service) : `${printable(service)}[${printable(pid)}]`;
  const fields = Object.entries(rest).map(([key, value]) => `${key}=${printable(value)}`);
  return `${[clock, printable(level).toUpperCase().padEnd(5), who, printable(type), ...fields].join(' ')}\n`;
}

function printable(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /^[\x21-\x7e]*$/.test(text) && text !== '' ? text : JSON.stringify(text);
}
