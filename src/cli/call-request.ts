// What `certbound call` sends besides the token, from curl's flags: -X METHOD, -H 'Name: value',
// -d BODY|@FILE|@-. Checked before anything is exchanged, each refusal naming its flag.
import { readFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import { flagName, optionalString, stringList, type Parsed } from './args.js';
import { UsageError } from './errors.js';

export interface CallRequest {
  method: string;
  headers: [string, string][];
  body: Buffer | undefined;
}

/** RFC 9110 §5.6.2 token: what a method and a header name are made of. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Methods fetch refuses to send (WHATWG Fetch, forbidden methods). */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

export async function callRequestOf(parsed: Parsed): Promise<CallRequest> {
  const body = await bodyOf(parsed);
  const method = optionalString(parsed, 'request') ?? (body === undefined ? 'GET' : 'POST');
  const methodFlag = flagName(parsed, 'request');
  if (!TOKEN.test(method)) throw new UsageError(`call: ${methodFlag} ${JSON.stringify(method)} is not an HTTP method`);
  if (FORBIDDEN_METHODS.has(method.toUpperCase())) throw new UsageError(`call: ${methodFlag} ${method} cannot be sent with fetch`);
  if (body !== undefined && /^(GET|HEAD)$/i.test(method))
    throw new UsageError(`call: ${flagName(parsed, 'data')} cannot be sent with ${method}: give ${methodFlag} POST (or PUT, PATCH...)`);
  const headers = stringList(parsed, 'header').map((line) => headerOf(parsed, line));
  if (body !== undefined && !headers.some(([name]) => name.toLowerCase() === 'content-type')) {
    // As curl -d: a form, unless a Content-Type header says otherwise.
    headers.push(['content-type', 'application/x-www-form-urlencoded']);
  }
  return { method, headers, body };
}

function headerOf(parsed: Parsed, line: string): [string, string] {
  const flag = flagName(parsed, 'header');
  const colon = line.indexOf(':');
  const name = colon === -1 ? line : line.slice(0, colon).trim();
  const value = colon === -1 ? '' : line.slice(colon + 1).trim();
  if (colon === -1 || !TOKEN.test(name)) throw new UsageError(`call: ${flag} ${JSON.stringify(line)} is not 'Name: value'`);
  if (/[\r\n\0]/.test(value)) throw new UsageError(`call: ${flag} ${name}: a header value cannot hold line breaks`);
  if (name.toLowerCase() === 'authorization')
    throw new UsageError(`call: ${flag} Authorization: call sends the bound token there; to send a token of your own use curl`);
  return [name, value];
}

async function bodyOf(parsed: Parsed): Promise<Buffer | undefined> {
  const data = optionalString(parsed, 'data');
  if (data === undefined) return undefined;
  if (!data.startsWith('@')) return Buffer.from(data);
  if (data === '@-') return buffer(process.stdin);
  const file = data.slice(1);
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UsageError(`call: ${flagName(parsed, 'data')} @${file}: cannot read the file (${code})`);
  }
}
