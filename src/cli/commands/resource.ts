import { DEFAULT_CERTIFICATE_HEADERS, type ForwardedCertificateFormat, type TrustedProxyOptions } from '../../http/forwarded-certificate.js';
import { createResourceServer } from '../servers/resource-server.js';
import { optionalString, parse, port, stringList, type Parsed } from '../args.js';
import { UsageError } from '../errors.js';
import { loadProtectedServer, PROTECTED_SERVER_OPTIONS } from '../protected-server.js';
import { logEvent, reloadOnHangup, serveUntilSignalled } from '../serve.js';
import { drainTimeoutOf, mergeLimits, serverLimitsOf, SERVER_OPTIONS_USAGE } from '../server-options.js';
import { isWorker, runPrimary, WORKERS_OPTION, workersOf } from '../workers.js';

export const usage = `certbound resource --port N --tls-ca F --tls-cert F --tls-key F --jwks FILE_OR_URL
                    --issuer I --audience A [--audience A2 ...] [--required-scope S ...] [--host ADDR]
                    [--trusted-proxy ADDR_OR_CIDR ... --client-cert-format rfc9440|xfcc|pem-urlencoded
                     [--client-cert-header NAME] [--xfcc-hops N]] [--token-cache ENTRIES]
                    [--jwks-max-stale S] [--clock-skew S] [--tls-crl F ...] [--workers N] [limits]
  Run an HTTPS resource server whose GET / accepts only tokens bound to the caller's client
  certificate. A JWKS URL is fetched over TLS verified with --tls-ca, cached, and re-fetched
  when a token names an unknown key. --required-scope makes GET / answer 403 insufficient_scope
  to tokens without that scope. RFC 9728 metadata for the first --audience is served at
  /.well-known/oauth-protected-resource.
  Behind a TLS-terminating proxy, --trusted-proxy names it: requests from it must carry the client
  certificate in the header of --client-cert-format (default names client-cert,
  x-forwarded-client-cert, x-ssl-client-cert); that header from any other peer is refused.
  --token-cache keeps up to ENTRIES successful verifications (per token and certificate, at most
  60 s and never past exp; default 10000, 0 turns it off). A JWKS URL that stops answering: its last keys keep verifying for
  --jwks-max-stale seconds (3600), then every token is refused (503) until it answers again.
  --clock-skew (30, at most 300) is the leeway for exp and nbf. --workers N: processes sharing
  the port (default: one per core); each has its own token cache.
${SERVER_OPTIONS_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('resource', argv, {
    ...PROTECTED_SERVER_OPTIONS,
    'required-scope': { type: 'string', multiple: true },
    'trusted-proxy': { type: 'string', multiple: true },
    'client-cert-format': { type: 'string' },
    'client-cert-header': { type: 'string' },
    'xfcc-hops': { type: 'string' },
    ...WORKERS_OPTION,
  });
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const listenPort = port('resource', parsed);
  const workers = workersOf('resource', parsed);
  if (workers > 1 && !isWorker()) return runPrimary('resource', workers, logEvent('resource'));
  const log = logEvent('resource');
  const { tls, issuer, audience, verifier, reloadables } = await loadProtectedServer('resource', parsed, log);
  const limits = mergeLimits('resource', serverLimitsOf('resource', parsed));
  const drainTimeout = drainTimeoutOf('resource', parsed);
  const requiredScopes = stringList(parsed, 'required-scope');
  const trustedProxy = trustedProxyOf(parsed);
  const metadataResource = audience.find((value) => value.startsWith('https://'));
  let server;
  try {
    server = createResourceServer({
      tls,
      verifier,
      requiredScopes,
      ...(trustedProxy === undefined ? {} : { trustedProxy }),
      ...(metadataResource === undefined ? {} : { metadata: { resource: metadataResource, authorizationServers: [issuer], scopes: requiredScopes } }),
      limits,
      onEvent: log,
    });
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`resource: ${error.message}`);
    throw error;
  }
  const running = server;
  reloadOnHangup(log, reloadables((files) => running.reloadTls(files)));
  return serveUntilSignalled('resource', server, listenPort, optionalString(parsed, 'host') ?? '127.0.0.1', '', drainTimeout);
}

/** The proxy flags as options; all or nothing. */
function trustedProxyOf(parsed: Parsed): TrustedProxyOptions | undefined {
  const addresses = stringList(parsed, 'trusted-proxy');
  const format = optionalString(parsed, 'client-cert-format');
  const header = optionalString(parsed, 'client-cert-header');
  const hops = positiveInteger(parsed, 'xfcc-hops');
  if (addresses.length === 0) {
    if (format !== undefined || header !== undefined || hops !== undefined) throw new UsageError('resource: --client-cert-format, --client-cert-header and --xfcc-hops need --trusted-proxy');
    return undefined;
  }
  if (format === undefined) throw new UsageError('resource: --trusted-proxy needs --client-cert-format');
  if (!Object.hasOwn(DEFAULT_CERTIFICATE_HEADERS, format)) throw new UsageError(`resource: --client-cert-format must be one of ${Object.keys(DEFAULT_CERTIFICATE_HEADERS).join(', ')}`);
  if (hops !== undefined && format !== 'xfcc') throw new UsageError('resource: --xfcc-hops applies to --client-cert-format xfcc only');
  return {
    addresses,
    format: format as ForwardedCertificateFormat,
    ...(header === undefined ? {} : { header }),
    ...(hops === undefined ? {} : { xfccHops: hops }),
  };
}

function positiveInteger(parsed: Parsed, name: string): number | undefined {
  const raw = optionalString(parsed, name);
  if (raw === undefined) return undefined;
  if (!/^[1-9]\d{0,6}$/.test(raw)) throw new UsageError(`resource: --${name} must be a positive integer`);
  return Number(raw);
}
