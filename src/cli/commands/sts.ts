import type { CommandOption } from '../../config/option.js';
import { readSettings } from '../../config/settings.js';
import { STS_COMMAND_SETTINGS } from '../../config/sts-settings.js';
import { DEFAULTS } from '../../defaults.js';
import { readYamlMapping } from '../../files/yaml.js';
import { loadStsConfig } from '../../sts/config.js';
import { metadataUrlOf } from '../../sts/discovery.js';
import { createStsServer } from '../../sts/server.js';
import { parse, requireString } from '../args.js';
import { logLevelOf } from '../log.js';
import { reloadOnChange, type Reloadable, type ReloadTrigger } from '../reload.js';
import { logEvent, logTokenKeyFailures, serveUntilSignalled } from '../serve.js';
import { startOperations } from '../operations.js';
import { ADMIN_SETTINGS, LOG_LEVEL_SETTING } from '../../config/server-settings.js';
import { CONFIG_FLAG } from '../config-flag.js';
import { limitsOf, SERVER_OPTIONS_USAGE, tlsReloadable } from '../settings.js';
import { isWorker, runPrimary, workersOf } from '../workers.js';

export const usage = `certbound sts --config FILE [--port N] [--host ADDR] [--check-config]
               [--tls-ca F] [--tls-cert F] [--tls-key F] [--tls-crl F ...] [--jwt-key F] [--jwt-kid KID]
               [--jwt-alg ALG] [--keystore DIR] [--verify-each-signature] [--issuer URL] [--public-url URL]
               [--issuer-metadata-elsewhere] [--require-client-id] [--access-token-lifetime S] [--subject-token-error invalid_request|invalid_grant]
               [--body-limit BYTES] [--rate-limit N] [--rate-burst N] [--workers N] [limits]
  Run the token-exchange STS (default 127.0.0.1:8081). Every flag has a key in the file
  (docs/configuration.md); a flag overrides it. --check-config validates the file and everything
  it refers to, then exits.
  --public-url: where clients reach this STS (the endpoints in the RFC 8414 metadata; default the
  issuer). It must be the issuer's origin, where discovery looks, unless
  --issuer-metadata-elsewhere says a proxy at the issuer's origin serves the metadata.
  --require-client-id: token and introspection requests must name their client (client_id,
  RFC 8705 section 2), as require_client_id: true in the file does.
  --rate-limit: token and introspection requests per second per client certificate (50; 0 = off),
  --rate-burst: how many at once (100); beyond them 429 with Retry-After. --body-limit (16384).
  SIGHUP, or a change on disk, re-reads the TLS files, CRLs and keystore (a single signing.key
  is not reloaded).
  --workers N: processes sharing the port (default: one per core); the rate limit is per worker.
  --verify-each-signature: check every signature of a signing key in a PKCS#11 token before the
  token leaves (on by default for TPM modules; signing.verify_each_signature: false turns it off).
${SERVER_OPTIONS_USAGE}`;

export const flags: readonly CommandOption[] = [
  CONFIG_FLAG,
  { flag: 'check-config', type: { kind: 'boolean' }, doc: 'validate the file and everything it refers to, then exit' },
  ...STS_COMMAND_SETTINGS,
];

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('sts', argv, flags);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const configFile = requireString('sts', parsed, 'config');
  // The flags, checked on their own first: they override the file's settings one by one.
  const overrides = readSettings(STS_COMMAND_SETTINGS, { command: 'sts', flags: parsed.values, fromEnv: parsed.fromEnv });
  const checkOnly = parsed.values['check-config'] === true;
  if (!checkOnly && !isWorker()) {
    const document = await readYamlMapping(configFile, 'STS configuration');
    const fromFile = document.workers;
    const workers = workersOf((overrides.workers as number | undefined) ?? (Number.isInteger(fromFile) ? (fromFile as number) : undefined));
    if (workers > 1) {
      // The primary logs for itself and serves the cluster's admin listener: it reads those settings from the file too.
      const primary = readSettings([...ADMIN_SETTINGS, LOG_LEVEL_SETTING], {
        command: 'sts',
        flags: parsed.values,
        fromEnv: parsed.fromEnv,
        file: { path: configFile, document },
      });
      return runPrimary('sts', workers, logEvent('sts', logLevelOf(primary.logLevel)), primary);
    }
  }
  const fromEnv = new Set(STS_COMMAND_SETTINGS.filter((spec) => parsed.fromEnv.has(spec.flag as string)).map((spec) => spec.option));
  limitsOf('sts', { values: overrides, file: undefined, fromEnv });
  const { options: config, tlsPaths, process: listen } = await loadStsConfig(configFile, overrides);
  if (checkOnly) {
    const now = Math.floor(Date.now() / 1000);
    const signer = config.signingKey ?? config.keys?.signingKey(now);
    const keys =
      config.keys === undefined
        ? `${signer?.alg} key ${signer?.kid}`
        : `keystore with ${config.keys.publishedKeys(now).length} published keys, signing with ${signer === undefined ? 'none (no key active!)' : `${signer.alg} key ${signer.kid}`}`;
    config.keys?.close();
    process.stdout.write(
      `${configFile}: ok (issuer ${config.issuer}, ${config.policy.clients.length} clients, ${config.policy.subjectTokens.length} subject tokens, ${config.policy.trustedIssuers.length} trusted issuers, ${keys})\n`,
    );
    return 0;
  }
  const operations = await startOperations('sts', logEvent('sts', logLevelOf(listen.logLevel)), listen);
  const log = operations.onEvent;
  if (config.issuerMetadataElsewhere === true) {
    // Said once at start, so whoever reads the log knows discovery depends on something else.
    log({
      type: 'discovery.elsewhere',
      detail: `RFC 8414 clients fetch ${metadataUrlOf(config.issuer).href}; this STS is reached at ${config.publicUrl ?? config.issuer}`,
    });
  }
  const server = createStsServer({ ...config, onEvent: log });
  logTokenKeyFailures(server.server, log);
  operations.countServer(server.server);
  operations.addReadyCheck(() =>
    (config.signingKey ?? config.keys?.signingKey(Math.floor(Date.now() / 1000))) === undefined ? 'no signing key is active' : undefined,
  );
  // SIGHUP, or a change on disk, re-reads the TLS files and a keystore (which also checks
  // keystore.json itself every few seconds: `trigger: 'poll'`). A single key file is not swapped:
  // tokens it signed would stop verifying. Either way a reload must not kill the server.
  const keystore = config.keys;
  const reloadables: Reloadable[] = [tlsReloadable(tlsPaths, (files) => server.reloadTls(files))];
  if (keystore === undefined) {
    process.on('SIGHUP', () => log({ type: 'reload.skipped', detail: 'signing.key is a single key file; only a keystore reloads' }));
  } else {
    let trigger: ReloadTrigger | 'poll' = 'poll';
    keystore.onEvent = (event) =>
      log(
        event.type === 'keystore.reloaded'
          ? { type: event.type, keys: event.keys, trigger }
          : { type: event.type, detail: event.error.message, trigger },
      );
    reloadables.push({
      name: 'keystore',
      files: [keystore.indexFile],
      reportsItself: true,
      reload: async (why) => {
        trigger = why;
        try {
          await keystore.reload();
        } finally {
          trigger = 'poll';
        }
      },
    });
  }
  const reloading = await reloadOnChange(log, reloadables, listen.watchDebounceMs);
  try {
    return await serveUntilSignalled(
      'sts',
      server,
      listen.port ?? DEFAULTS.sts.port,
      listen.host ?? DEFAULTS.server.host,
      ` (issuer ${config.issuer})`,
      listen.drainTimeoutMs,
      operations,
    );
  } finally {
    reloading.close();
  }
}
