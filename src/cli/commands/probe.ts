import { parseBearerAuthorization } from '../../core/bearer.js';
import { computeThumbprint, thumbprintsEqual } from '../../core/thumbprint.js';
import { createTokenSource, type TokenSourceOptions } from '../../client/token-source.js';
import type { TlsFiles } from '../../files/tls-files.js';
import type { FlagSpec } from '../../config/option.js';
import { flagName, givenAlternatives, optionalString, parse, requireString, type Parsed } from '../args.js';
import { OperationFailed, UsageError } from '../errors.js';
import { flagUsageError } from '../flag-errors.js';
import { probeCases } from '../probe/cases.js';
import { formatTable, problemOf, type ProbeResult } from '../probe/report.js';
import { sendCase, type ProbeTarget } from '../probe/send.js';
import {
  asOperationFailure,
  stsConnectionFlags,
  CLIENT_FLAGS,
  clientTlsOf,
  exchangeOptionsOf,
  readSecretFile,
  STS_SERVERNAME_FLAG,
} from './client.js';

export const usage = `certbound probe URL --tls-ca F --tls-cert F --tls-key F --other-cert F --other-key F
                (--token T | --token-file F | --sts URL (--subject-token T | --subject-token-file F)
                 (--audience A | --resource R)... [--scope S] [--sts-servername NAME] [--client-id ID]
                 [--subject-token-type URN] [--requested-token-type URN])
                [--servername NAME] [--method M] [--pkcs11-module F] [--pkcs11-pin-file F]
  Check from outside that a deployed resource server or gateway enforces certificate-bound tokens
  (RFC 8705). With a token bound to --tls-cert, send one request (GET, or --method) to URL for
  each case: with that certificate (must be accepted), with --other-cert (another client of the
  same CA), with no certificate, with --other-cert plus a forged certificate header naming
  --tls-cert in each form proxies forward (RFC 9440 Client-Cert, Envoy XFCC, nginx
  X-SSL-Client-Cert, Traefik X-Forwarded-Tls-Client-Cert), and in ?access_token= (all must be refused). Prints a table and exits 1 when
  a case that must be refused was accepted (UNSAFE) or the token was refused with its own
  certificate (inconclusive). The token is --token, read from --token-file, or exchanged at --sts
  with --tls-cert as 'certbound token' does (same flags); it is never printed. --servername is the
  TLS server name and the Host header, for a server reached by address; --sts-servername the STS's.`;

export const flags: readonly FlagSpec[] = [
  ...CLIENT_FLAGS,
  STS_SERVERNAME_FLAG,
  { flag: 'token', type: { kind: 'string' }, doc: 'a token bound to --tls-cert, instead of an exchange at --sts (a secret)' },
  { flag: 'token-file', type: { kind: 'path' }, doc: 'a file holding that token' },
  { flag: 'other-cert', type: { kind: 'path' }, doc: 'another client certificate of the same CA, which must be refused' },
  { flag: 'other-key', type: { kind: 'path-or-pkcs11' }, doc: 'its private key' },
  { flag: 'method', type: { kind: 'string' }, doc: 'the HTTP method of every request (default: GET)' },
];

/** Flags that only mean something for the exchange at --sts. */
const EXCHANGE_FLAGS = [
  'subject-token',
  'subject-token-file',
  'subject-token-type',
  'audience',
  'resource',
  'scope',
  'requested-token-type',
  'client-id',
  'sts-servername',
] as const;

/** RFC 9110 §9.1: a method is a token. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('probe', argv, flags, 1);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const target = parsed.positionals[0];
  if (target === undefined || !URL.canParse(target) || new URL(target).protocol !== 'https:')
    throw new UsageError('probe: URL (https) is required');
  const method = optionalString(parsed, 'method') ?? 'GET';
  if (!METHOD.test(method) || method.toUpperCase() === 'CONNECT')
    throw new UsageError(`probe: ${flagName(parsed, 'method')} must be an HTTP method such as GET or POST, not ${JSON.stringify(method)}`);
  const { owner, getToken } = await tokenSourceOf(parsed);
  const other = await clientTlsOf('probe', parsed, 'other-cert', 'other-key');
  if (thumbprintsEqual(computeThumbprint(owner.cert), computeThumbprint(other.cert)))
    throw new UsageError('probe: --other-cert must be another client certificate than --tls-cert');
  const token = await getToken();
  const probe: ProbeTarget = {
    url: new URL(target),
    method,
    servername: optionalString(parsed, 'servername'),
    ca: owner.ca,
    token,
    owner,
    other,
  };
  const results: ProbeResult[] = [];
  // One at a time, in order: a server under test should not see a burst.
  for (const probeCase of probeCases(owner.cert)) {
    const observed = await sendCase(probe, probeCase);
    // Without an answer to the owner's own request (a wrong address or server name, say), every
    // other row would only repeat that failure.
    if (results.length === 0 && observed.kind === 'no-answer')
      throw new OperationFailed(`cannot reach ${probe.url.origin}: ${observed.reason}`);
    results.push({ probeCase, observed });
  }
  process.stdout.write(`${formatTable(results)}\n`);
  const problem = problemOf(results);
  if (problem !== undefined) throw new OperationFailed(problem);
  process.stdout.write(`all ${results.length} cases as expected: the token is accepted only with its own certificate\n`);
  return 0;
}

/** The owner's TLS files and how to get its token: given (--token, --token-file) or exchanged (--sts). */
interface TokenSource {
  owner: TlsFiles;
  getToken: () => Promise<string>;
}

/**
 * Exactly one of --token, --token-file and --sts, and the exchange flags only with --sts. Every
 * flag and file is checked here; only getToken() goes to the network.
 */
async function tokenSourceOf(parsed: Parsed): Promise<TokenSource> {
  const given = givenAlternatives(parsed, ['token', 'token-file', 'sts']);
  const source = given[0];
  if (source === undefined || given.length > 1) throw new UsageError('probe: give exactly one of --token, --token-file or --sts');
  if (source === 'sts') {
    const { tls, options } = await exchangeOptionsOf('probe', parsed, optionalString(parsed, 'sts-servername'));
    return { owner: tls, getToken: () => exchangedToken(parsed, options) };
  }
  // As with the sources themselves, a source on the command line outweighs exchange variables.
  const stray = EXCHANGE_FLAGS.find(
    (flag) => parsed.values[flag] !== undefined && !(parsed.fromEnv.has(flag) && !parsed.fromEnv.has(source)),
  );
  if (stray !== undefined)
    throw new UsageError(`probe: ${flagName(parsed, stray)} is for the exchange at --sts; with ${flagName(parsed, source)} drop it`);
  const token =
    source === 'token'
      ? requireString('probe', parsed, 'token')
      : await readSecretFile('probe', requireString('probe', parsed, 'token-file'), 'token file');
  try {
    parseBearerAuthorization(`Bearer ${token}`);
  } catch {
    throw new UsageError(`probe: ${flagName(parsed, source)} is not a bearer token (RFC 6750 b64token characters only)`);
  }
  const owner = await clientTlsOf('probe', parsed);
  return { owner, getToken: () => Promise.resolve(token) };
}

/** A token bound to --tls-cert, exchanged at --sts as `certbound token` does. */
async function exchangedToken(parsed: Parsed, options: TokenSourceOptions): Promise<string> {
  let tokens;
  try {
    tokens = createTokenSource(options);
  } catch (error) {
    if (error instanceof TypeError) throw flagUsageError('probe', parsed, error);
    throw error;
  }
  try {
    return await tokens.getToken();
  } catch (error) {
    throw asOperationFailure(error, stsConnectionFlags('sts-servername'));
  } finally {
    await tokens.close();
  }
}
