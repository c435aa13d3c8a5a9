import type { CommandOption, OptionSpec } from '../../config/option.js';
import { RESOURCE_SETTINGS } from '../../config/protected-settings.js';
import { LISTEN_SETTINGS } from '../../config/server-settings.js';
import { DEFAULTS } from '../../defaults.js';
import type { ForwardedCertificateFormat, TrustedProxyOptions } from '../../http/forwarded-certificate.js';
import { parse } from '../args.js';
import { UsageError } from '../errors.js';
import { logLevelOf } from '../log.js';
import { loadProtectedServer } from '../protected-server.js';
import { reloadOnChange } from '../reload.js';
import { logEvent, logTokenKeyFailures, serveUntilSignalled } from '../serve.js';
import { startOperations } from '../operations.js';
import { CONFIG_FLAG } from '../config-flag.js';
import {
  commandSettings,
  flagOf,
  limitsOf,
  requireSetting,
  requireSettings,
  SERVER_OPTIONS_USAGE,
  type CommandSettings,
} from '../settings.js';
import { createResourceServer } from '../servers/resource-server.js';
import { isWorker, runPrimary, workersOf } from '../workers.js';

export const usage = `certbound resource [--config FILE] --port N --tls-ca F --tls-cert F --tls-key F --jwks FILE_OR_URL
                    --issuer I --audience A [--audience A2 ...] [--required-scope S ...] [--host ADDR]
                    [--trusted-proxy ADDR_OR_CIDR ... --client-cert-format rfc9440|xfcc|pem-urlencoded|traefik
                     [--client-cert-header NAME] [--xfcc-hops N]] [--token-cache ENTRIES]
                    [--jwks-max-stale S] [--clock-skew S] [--start-without-jwks] [--tls-crl F ...] [--workers N] [limits]
  Run an HTTPS resource server whose GET / accepts only tokens bound to the caller's client
  certificate. A JWKS URL is fetched over TLS verified with --tls-ca before listening (exit 1 when
  it cannot be; --start-without-jwks listens anyway, /readyz not ready until it is fetched),
  cached, and re-fetched when a token names an unknown key. --required-scope makes GET / answer 403 insufficient_scope
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

export const flags: readonly CommandOption[] = [CONFIG_FLAG, ...RESOURCE_SETTINGS];

/** The flags a resource cannot start without, besides --port (checked together). */
const REQUIRED = ['tls-ca', 'tls-cert', 'tls-key', 'jwks', 'issuer', 'audience'] as const;
const settingOf = (flag: string): OptionSpec => RESOURCE_SETTINGS.find((spec) => spec.flag === flag) as OptionSpec;

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('resource', argv, flags);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const settings = await commandSettings('resource', RESOURCE_SETTINGS, parsed);
  const [, PORT] = LISTEN_SETTINGS;
  // Bad values first, then everything missing at once, all before a worker or a socket is started.
  const limits = limitsOf('resource', settings);
  requireSettings('resource', settings, [PORT as OptionSpec, ...REQUIRED.map(settingOf)]);
  const listenPort = requireSetting<number>('resource', settings, PORT);
  const workers = workersOf(settings.values.workers as number | undefined);
  const logLines = logEvent('resource', logLevelOf(settings.values.logLevel));
  if (workers > 1 && !isWorker()) return runPrimary('resource', workers, logLines, settings.values);
  const operations = await startOperations('resource', logLines, settings.values);
  const log = operations.onEvent;
  const trustedProxy = trustedProxyOf(settings);
  const { tls, issuer, audience, verifier, reloadables } = await loadProtectedServer('resource', settings, log, operations);
  const requiredScopes = (settings.values.requiredScopes as string[] | undefined) ?? [];
  const metadataResource = audience.find((value) => value.startsWith('https://'));
  let server;
  try {
    server = createResourceServer({
      tls,
      verifier,
      requiredScopes,
      ...(trustedProxy === undefined ? {} : { trustedProxy }),
      ...(metadataResource === undefined
        ? {}
        : { metadata: { resource: metadataResource, authorizationServers: [issuer], scopes: requiredScopes } }),
      limits,
      onEvent: log,
    });
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`resource: ${error.message}`);
    throw error;
  }
  const running = server;
  logTokenKeyFailures(running.server, log);
  operations.countServer(running.server);
  const reloading = await reloadOnChange(
    log,
    reloadables((files) => running.reloadTls(files)),
    settings.values.watchDebounceMs as number | undefined,
  );
  try {
    return await serveUntilSignalled(
      'resource',
      server,
      listenPort,
      (settings.values.host as string | undefined) ?? DEFAULTS.server.host,
      '',
      settings.values.drainTimeoutMs as number | undefined,
      operations,
    );
  } finally {
    reloading.close();
  }
}

/** The proxy settings as options; all or nothing. */
function trustedProxyOf(settings: CommandSettings): TrustedProxyOptions | undefined {
  const addresses = (settings.values.trustedProxies as string[] | undefined) ?? [];
  const format = settings.values.clientCertFormat as ForwardedCertificateFormat | undefined;
  const header = settings.values.clientCertHeader as string | undefined;
  const hops = settings.values.xfccHops as number | undefined;
  if (addresses.length === 0) {
    if (format !== undefined || header !== undefined || hops !== undefined)
      throw new UsageError('resource: --client-cert-format, --client-cert-header and --xfcc-hops need --trusted-proxy');
    return undefined;
  }
  if (format === undefined) throw new UsageError('resource: --trusted-proxy needs --client-cert-format');
  if (hops !== undefined && format !== 'xfcc') {
    const xfccHops = RESOURCE_SETTINGS.find((spec) => spec.option === 'xfccHops') as OptionSpec;
    throw new UsageError(`resource: ${flagOf(settings, xfccHops)} applies to --client-cert-format xfcc only`);
  }
  return { addresses, format, ...(header === undefined ? {} : { header }), ...(hops === undefined ? {} : { xfccHops: hops }) };
}
