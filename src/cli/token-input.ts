import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

/**
 * The token `inspect` was given: the argument, or with `-` stdin. Whatever `certbound token`
 * prints can be piped in: the bare token, its token response JSON (the access_token is taken)
 * or its `Authorization: Bearer` line.
 */
export function tokenInput(command: string, argument: string): string {
  const text = (argument === '-' ? readFileSync(0, 'utf8') : argument).trim();
  if (text.startsWith('{')) return accessTokenOf(command, text);
  const header = /^Authorization:\s*Bearer\s+(\S+)$/i.exec(text);
  return header === null ? text : (header[1] as string);
}

function accessTokenOf(command: string, json: string): string {
  let response: unknown;
  try {
    response = JSON.parse(json);
  } catch {
    throw new UsageError(`${command}: TOKEN starts with "{" but is not JSON (give the token, or the token response JSON)`);
  }
  const token = (response as { access_token?: unknown } | null)?.access_token;
  if (typeof token !== 'string' || token.length === 0)
    throw new UsageError(`${command}: TOKEN is JSON without an access_token (give the token, or the token response JSON)`);
  return token;
}
