import { createStsServer } from '../../sts/server.js';
import { loadStsConfig } from '../../sts/config.js';
import { metadataUrlOf } from '../../sts/discovery.js';
import { optionalString, parse, port, requireString, type Parsed } from '../args.js';
import { UsageError } from '../errors.js';
import { logEvent, reloadOnHangup, serveUntilSignalled, type Reloadable } from '../serve.js';
import { crlPathsOf, drainTimeoutOf, integerFlag, mergeLimits, SERVER_OPTIONS, SERVER_OPTIONS_USAGE, serverLimitsOf, tlsReloader } from '../server-options.js';
import { RATE_LIMIT_DEFAULTS, type RateLimitOptions } from '../../core/rate-limit.js';
import { isWorker, runPrimary, WORKERS_OPTION, workersOf } from '../workers.js';

export const usage = `certbound sts --config FILE [--port N] [--host ADDR] [--check-config]
               [--tls-ca F] [--tls-cert F] [--tls-key F] [--tls-crl F ...] [--jwt-key F] [--jwt-kid KID]
               [--issuer URL] [--public-url URL] [--issuer-metadata-elsewhere] [--require-client-id]
               [--body-limit BYTES] [--rate-limit N] [--rate-burst N] [--workers N] [limits]
  Run the token-exchange STS (default 127.0.0.1:8081). Flags override the file.
  --check-config validates the file and everything it refers to, then exits.
  --public-url: where clients reach this STS (the endpoints in the RFC 8414 metadata; default the
  issuer). It must be the issuer's origin, where discovery looks, unless
  --issuer-metadata-elsewhere says a proxy at the issuer's origin serves the metadata.
  --require-client-id: token and introspection requests must name their client (client_id,
  RFC 8705 section 2), as require_client_id: true in the file does.
  --rate-limit: token and introspection requests per second per client certificate (50; 0 = off),
  --rate-burst: how many at once (100); beyond them 429 with Retry-After. --body-limit (16384).
  SIGHUP re-reads the TLS files and CRLs, and the keystore (a single signing.key is not reloaded).
  --workers N: processes sharing the port (default: one per core); the rate limit is per worker.
${SERVER_OPTIONS_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('sts', argv, {
    config: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'check-config': { type: 'boolean' },
    'tls-ca': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'jwt-key': { type: 'string' },
    'jwt-kid': { type: 'string' },
    issuer: { type: 'string' },
    'public-url': { type: 'string' },
    'issuer-metadata-elsewhere': { type: 'boolean' },
    'require-client-id': { type: 'boolean' },
    'body-limit': { type: 'string' },
    'rate-limit': { type: 'string' },
    'rate-burst': { type: 'string' },
    ...SERVER_OPTIONS,
    ...WORKERS_OPTION,
  });
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const configFile = requireString('sts', parsed, 'config');
  const overrides = {
    issuer: optionalString(parsed, 'issuer'),
    tlsCa: optionalString(parsed, 'tls-ca'),
    tlsCert: optionalString(parsed, 'tls-cert'),
    tlsKey: optionalString(parsed, 'tls-key'),
    jwtKey: optionalString(parsed, 'jwt-key'),
    jwtKid: optionalString(parsed, 'jwt-kid'),
    tlsCrl: crlPathsOf(parsed).length > 0 ? crlPathsOf(parsed) : undefined,
    requireClientId: parsed.values['require-client-id'] === true ? true : undefined,
    publicUrl: optionalString(parsed, 'public-url'),
    issuerMetadataElsewhere: parsed.values['issuer-metadata-elsewhere'] === true ? true : undefined,
  };
  const limits = serverLimitsOf('sts', parsed);
  const drainTimeout = drainTimeoutOf('sts', parsed);
  const bodyLimit = integerFlag('sts', parsed, 'body-limit', 1024, 1024 * 1024);
  const rateLimit = rateLimitOf(parsed);
  const listenPort = port('sts', parsed, 8081);
  const workers = workersOf('sts', parsed);
  if (parsed.values['check-config'] !== true && workers > 1 && !isWorker()) return runPrimary('sts', workers, logEvent('sts'));
  const config = await loadStsConfig(configFile, Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)));
  if (parsed.values['check-config'] === true) {
    const now = Math.floor(Date.now() / 1000);
    const signer = config.signingKey ?? config.keys?.signingKey(now);
    const keys = config.keys === undefined ? `${signer?.alg} key ${signer?.kid}` : `keystore with ${config.keys.publishedKeys(now).length} published keys, signing with ${signer === undefined ? 'none (no key active!)' : `${signer.alg} key ${signer.kid}`}`;
    config.keys?.close();
    process.stdout.write(`${configFile}: ok (issuer ${config.issuer}, ${config.policy.clients.length} clients, ${config.policy.subjectTokens.length} subject tokens, ${config.policy.trustedIssuers.length} trusted issuers, ${keys})\n`);
    return 0;
  }
  const log = logEvent('sts');
  if (config.issuerMetadataElsewhere === true) {
    // Said once at start, so whoever reads the log knows discovery depends on something else.
    log({ type: 'discovery.elsewhere', detail: `RFC 8414 clients fetch ${metadataUrlOf(config.issuer).href}; this STS is reached at ${config.publicUrl ?? config.issuer}` });
  }
  const { tlsPaths, ...options } = config;
  const server = createStsServer({
    ...options,
    onEvent: log,
    // Flags override the file's limits one by one.
    limits: mergeLimits('sts', config.limits ?? {}, limits),
    ...(bodyLimit === undefined ? {} : { bodyLimitBytes: bodyLimit }),
    ...(rateLimit === undefined ? {} : { rateLimit }),
  });
  // SIGHUP re-reads the TLS files and a keystore at once (a keystore is also re-read when
  // keystore.json changes). A single key file is not swapped: tokens it signed would stop
  // verifying. Either way SIGHUP must not kill the server.
  const keystore = config.keys;
  if (keystore !== undefined) keystore.onReloadError = (error) => log({ type: 'keystore.reload_failed', detail: error.message });
  const reloadables: Reloadable[] = [{ name: 'tls', reload: tlsReloader(tlsPaths, (files) => server.reloadTls(files)) }];
  if (keystore === undefined) {
    process.on('SIGHUP', () => log({ type: 'reload.skipped', detail: 'signing.key is a single key file; only a keystore reloads' }));
  } else {
    process.on('SIGHUP', () => void keystore.reload().then((loaded) => loaded && log({ type: 'keystore.reloaded' })));
  }
  reloadOnHangup(log, reloadables);
  return serveUntilSignalled('sts', server, listenPort, optionalString(parsed, 'host') ?? '127.0.0.1', ` (issuer ${config.issuer})`, drainTimeout);
}

/** --rate-limit/--rate-burst as options: undefined for the defaults, false for off. */
function rateLimitOf(parsed: Parsed): RateLimitOptions | false | undefined {
  const perSecond = integerFlag('sts', parsed, 'rate-limit', 0, 1_000_000);
  const burst = integerFlag('sts', parsed, 'rate-burst', 1, 1_000_000);
  if (perSecond === 0) {
    if (burst !== undefined) throw new UsageError('sts: --rate-burst has no meaning with --rate-limit 0');
    return false;
  }
  if (perSecond === undefined && burst === undefined) return undefined;
  const perSecondValue = perSecond ?? RATE_LIMIT_DEFAULTS.perSecond;
  return { perSecond: perSecondValue, burst: burst ?? perSecondValue * 2 };
}
