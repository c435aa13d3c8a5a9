import { isIP } from 'node:net';
import { connect } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import type { FlagSpec } from '../../config/option.js';
import { integerFlag, parse } from '../args.js';
import { OperationFailed, UsageError } from '../errors.js';

export const usage = `certbound wait ADDRESS... [--timeout SECONDS]
  Wait until every ADDRESS is up, for scripts that start servers with & and use them next.
  ADDRESS is https://HOST:PORT (or HOST:PORT): up once it completes a TLS handshake, or answers
  one with a TLS alert (a server that wants a client certificate); or an http:// URL such as an
  admin listener's /readyz: up once it answers 200. Nothing is sent but the handshake or a GET,
  and the server certificate is not checked: this says a server listens, not that it is the
  right one. Exit 0 when all are up, 1 when one is not within --timeout (default 30).`;

const MAX_ADDRESSES = 32;
const ATTEMPT_TIMEOUT_MS = 2000;
const RETRY_MS = 100;

export const flags: readonly FlagSpec[] = [
  { flag: 'timeout', type: { kind: 'seconds', min: 1, max: 3600 }, doc: 'how long to wait for all of them, in seconds (default 30)' },
];

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('wait', argv, flags, MAX_ADDRESSES);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (parsed.positionals.length === 0)
    throw new UsageError('wait: give at least one ADDRESS (https://HOST:PORT, HOST:PORT or an http:// URL)');
  const addresses = parsed.positionals.map(addressOf);
  const seconds = integerFlag('wait', parsed, 'timeout', 1, 3600) ?? 30;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(addresses.map((address) => untilUp(address, deadline, seconds)));
  return 0;
}

type Address = { kind: 'tls'; text: string; host: string; port: number } | { kind: 'http'; text: string; url: URL };

function addressOf(text: string): Address {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`wait: ${JSON.stringify(text)} is not an address: give https://HOST:PORT, HOST:PORT or an http:// URL`);
  }
  if (url.protocol === 'http:') return { kind: 'http', text, url };
  if (url.protocol !== 'https:')
    throw new UsageError(`wait: ${JSON.stringify(text)}: only https:// and http:// addresses can be waited for`);
  return { kind: 'tls', text, host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? 443 : Number(url.port) };
}

async function untilUp(address: Address, deadline: number, seconds: number): Promise<void> {
  for (;;) {
    const problem = await (address.kind === 'tls' ? tlsProblem(address.host, address.port) : httpProblem(address.url));
    if (problem === undefined) return;
    if (Date.now() + RETRY_MS >= deadline)
      throw new OperationFailed(`wait: ${address.text} is not up after ${seconds} s (last attempt: ${problem})`);
    await delay(RETRY_MS);
  }
}

/** Undefined once the server speaks TLS: a finished handshake, or its alert refusing us. */
function tlsProblem(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      servername: isIP(host) === 0 ? host : '',
      rejectUnauthorized: false,
      ALPNProtocols: ['h2', 'http/1.1'],
    });
    const done = (problem: string | undefined): void => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(ATTEMPT_TIMEOUT_MS, () => done('no TLS handshake within 2 s'));
    socket.once('secureConnect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done(/^ERR_SSL_.*_ALERT_/.test(error.code ?? '') ? undefined : (error.code ?? error.message)),
    );
  });
}

async function httpProblem(url: URL): Promise<string | undefined> {
  try {
    const response = await request(url, { headersTimeout: ATTEMPT_TIMEOUT_MS, bodyTimeout: ATTEMPT_TIMEOUT_MS });
    await response.body.dump();
    return response.statusCode === 200 ? undefined : `HTTP ${response.statusCode}`;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}
