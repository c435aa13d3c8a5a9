import { createBoundFetch, type BoundFetch } from '../../client/bound-fetch.js';
import { connectionFailureOf } from '../../client/connection-failure.js';
import { createTokenSource, type TokenSource } from '../../client/token-source.js';
import type { FlagSpec } from '../../config/option.js';
import { optionalString, parse } from '../args.js';
import { callRequestOf } from '../call-request.js';
import { connectionFix, type ConnectionFlags } from '../connection-fix.js';
import { OperationFailed, UsageError } from '../errors.js';
import { flagUsageError } from '../flag-errors.js';
import {
  asOperationFailure,
  CLIENT_FLAGS,
  exchangeOptionsOf,
  followClientIdentity,
  STS_SERVERNAME_FLAG,
  stsConnectionFlags,
} from './client.js';

const text = { kind: 'string' } as const;

export const flags: readonly FlagSpec[] = [
  ...CLIENT_FLAGS,
  STS_SERVERNAME_FLAG,
  { flag: 'request', short: 'X', type: text, doc: 'the HTTP method (default GET, or POST with --data)' },
  {
    flag: 'header',
    short: 'H',
    type: { kind: 'strings' },
    doc: "a request header 'Name: value' (repeatable; not Authorization, which carries the token)",
  },
  {
    flag: 'data',
    short: 'd',
    type: text,
    doc: 'the request body: the text itself, @FILE for a file, @- for stdin (a form unless -H sets Content-Type)',
  },
  { flag: 'include', short: 'i', type: { kind: 'boolean' }, doc: 'print the status line and the response headers before the body' },
];

export const usage = `certbound call URL --sts URL --tls-ca F --tls-cert F --tls-key F (--subject-token T | --subject-token-file F)
                (--audience A | --resource R)... [--scope S] [--servername NAME] [--sts-servername NAME]
                [--client-id ID] [-X METHOD] [-H 'Name: value']... [-d BODY|@FILE|@-] [-i]
  Get a bound token as 'certbound token' does, call URL with it over the same client certificate,
  and print the response body. --servername applies to URL, --sts-servername to the STS.
  As curl: -X/--request METHOD (default GET, POST with a body), -H/--header 'Name: value'
  (repeatable; Authorization is the token's), -d/--data BODY, @FILE or @- (stdin; sent as a form
  unless -H sets Content-Type), -i/--include prints the status line and headers first.
  The certificate files are followed while the command runs: if they are rewritten, the token
  and the connection both move to the new certificate together (docs/rotation.md).
  Exits 1 when the STS or the resource refuses.`;

const RESOURCE_CONNECTION_FLAGS: ConnectionFlags = { ca: '--tls-ca', cert: '--tls-cert', servername: '--servername' };

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('call', argv, flags, 1);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const target = parsed.positionals[0];
  if (target === undefined || !URL.canParse(target) || !target.startsWith('https://'))
    throw new UsageError('call: URL (https) is required');
  const request = await callRequestOf(parsed);
  const stsServername = optionalString(parsed, 'sts-servername');
  const { tls, options } = await exchangeOptionsOf('call', parsed, stsServername);
  const identity = await followClientIdentity('call', parsed, tls);
  const servername = optionalString(parsed, 'servername');
  const { tls: _files, ...exchangeOptions } = options;
  let tokens: TokenSource;
  let boundFetch: BoundFetch;
  try {
    tokens = createTokenSource({ ...exchangeOptions, identity, ...(stsServername === undefined ? {} : { servername: stsServername }) });
    boundFetch = createBoundFetch({ tokenSource: tokens, ...(servername === undefined ? {} : { servername }) });
  } catch (error) {
    await identity.close();
    if (error instanceof TypeError) throw flagUsageError('call', parsed, error);
    throw error;
  }
  try {
    const response = await boundFetch(target, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
    });
    const body = await response.text();
    if (parsed.values.include === true) process.stdout.write(responseHead(response));
    if (!response.ok) {
      if (parsed.values.include === true) process.stdout.write(body.endsWith('\n') || body === '' ? body : `${body}\n`);
      const challenge = response.headers.get('www-authenticate');
      throw new OperationFailed(`resource answered ${response.status}${challenge === null ? '' : ` (WWW-Authenticate: ${challenge})`}`);
    }
    process.stdout.write(body.endsWith('\n') ? body : `${body}\n`);
    return 0;
  } catch (error) {
    if (error instanceof TypeError) {
      // undici's fetch reports a refused or failed connection as TypeError('fetch failed', { cause }).
      const origin = new URL(target).origin;
      const connection = connectionFailureOf(error);
      if (connection !== undefined)
        throw new OperationFailed(`resource ${origin} ${connection.summary}: ${connectionFix(connection, RESOURCE_CONNECTION_FLAGS)}`);
      throw new OperationFailed(`cannot reach ${origin}: ${(error.cause as Error | undefined)?.message ?? error.message}`);
    }
    throw asOperationFailure(error, stsConnectionFlags('sts-servername'));
  } finally {
    await Promise.all([tokens.close(), boundFetch.close()]);
    await identity.close();
  }
}

/** curl -i's head: the status line, each header, a blank line. certbound's agents speak HTTP/1.1. */
function responseHead(response: Response): string {
  const headers = [...response.headers].map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return `HTTP/1.1 ${response.status} ${response.statusText}\r\n${headers}\r\n`;
}
