import { DEFAULTS } from '../defaults.js';
import { headersOutlastRequest, LIMIT_OPTIONS, SERVER_LIMIT_DEFAULTS, type ServerLimits } from '../config/limits.js';
import { envNameOf, type OptionSpec } from '../config/option.js';
import { checkFileKeys, readSettings } from '../config/settings.js';
import { loadTlsFiles, type TlsFiles, type TlsPaths } from '../files/tls-files.js';
import { readYamlMapping } from '../files/yaml.js';
import { tokenObjectReaders, type Pkcs11Settings } from '../keys/tls-key-opener.js';
import { missingFlags, type Parsed } from './args.js';
import { UsageError } from './errors.js';
import type { Reloadable } from './reload.js';

export { flagOptions } from './args.js';

/**
 * A command's settings: its flags over its environment variables over its configuration file
 * (--config), by library option name.
 */
export interface CommandSettings {
  values: Record<string, unknown>;
  /** The configuration file, when one was given. */
  file: string | undefined;
  /** The options given as flags or variables (the rest came from the file), to name each as it was written. */
  flagged?: ReadonlySet<string>;
  /** The options given as environment variables. */
  fromEnv?: ReadonlySet<string>;
}

/**
 * Read a command's settings from its flags and, with `--config FILE`, from that file (its keys
 * checked first). `opaque` keys of the file have schemas of their own.
 * @throws ConfigError naming the flag or the file and key.
 */
export async function commandSettings(
  command: string,
  specs: readonly OptionSpec[],
  parsed: Parsed,
  opaque: readonly string[] = [],
): Promise<CommandSettings> {
  const path = parsed.values.config;
  const fromEnv = new Set(specs.filter((spec) => spec.flag !== undefined && parsed.fromEnv.has(spec.flag)).map((spec) => spec.option));
  const flags = { command, flags: parsed.values, fromEnv: parsed.fromEnv };
  if (typeof path !== 'string' || path === '') return { values: readSettings(specs, flags), file: undefined, fromEnv };
  const document = await readYamlMapping(path, 'configuration');
  checkFileKeys(path, document, specs, opaque);
  const flagged = new Set(specs.filter((spec) => spec.flag !== undefined && given(parsed.values[spec.flag])).map((spec) => spec.option));
  return { values: readSettings(specs, { ...flags, file: { path, document } }), file: path, flagged, fromEnv };
}

const given = (flag: unknown): boolean => flag !== undefined && !(Array.isArray(flag) && flag.length === 0);

/**
 * A setting as the person wrote it: `--headers-timeout`, CERTBOUND_HEADERS_TIMEOUT, or
 * `limits.headers_timeout in resource.yaml`.
 */
export function nameOf(settings: CommandSettings, spec: OptionSpec): string {
  if (spec.flag !== undefined && settings.fromEnv?.has(spec.option) === true) return envNameOf(spec.flag);
  const fromFile = settings.file !== undefined && settings.flagged?.has(spec.option) !== true && settings.values[spec.option] !== undefined;
  return fromFile || spec.flag === undefined ? `${spec.key} in ${settings.file}` : `--${spec.flag}`;
}

/** A setting as given on the command line or in the environment: `--rule`, or CERTBOUND_RULE when it came from there. */
export function flagOf(settings: CommandSettings, spec: OptionSpec): string {
  return spec.flag !== undefined && settings.fromEnv?.has(spec.option) === true ? envNameOf(spec.flag) : `--${spec.flag ?? spec.key}`;
}

/** A setting that must be given, by flag, variable or in the file. */
export function requireSetting<T>(command: string, settings: CommandSettings, spec: OptionSpec): T {
  const value = settings.values[spec.option];
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    throw new UsageError(
      `${command}: --${spec.flag ?? spec.key} is required${settings.file === undefined ? '' : ` (or ${spec.key} in ${settings.file})`}`,
    );
  }
  return value as T;
}

/**
 * Settings that must all be given, refused together: one run names everything missing
 * (`resource: --tls-ca, --tls-cert and --jwks are required`).
 */
export function requireSettings(command: string, settings: CommandSettings, specs: readonly OptionSpec[]): void {
  const missing = specs.filter((spec) => {
    const value = settings.values[spec.option];
    return value === undefined || (Array.isArray(value) && value.length === 0);
  });
  const keys = missing.map((spec) => spec.key).join(', ');
  missingFlags(
    command,
    missing.map((spec) => spec.flag ?? spec.key),
    settings.file === undefined ? '' : ` (or ${keys} in ${settings.file})`,
  );
}

/** The server limits among the settings, checked together. */
export function limitsOf(command: string, settings: CommandSettings): ServerLimits {
  const limits = Object.fromEntries(
    LIMIT_OPTIONS.flatMap((spec) => (settings.values[spec.option] === undefined ? [] : [[spec.option, settings.values[spec.option]]])),
  ) as ServerLimits;
  if (headersOutlastRequest(limits)) {
    const limit = (option: keyof ServerLimits) => nameOf(settings, LIMIT_OPTIONS.find((spec) => spec.option === option) as OptionSpec);
    throw new UsageError(`${command}: ${limit('headersTimeoutMs')} must not exceed ${limit('requestTimeoutMs')}`);
  }
  return limits;
}

/** The PKCS#11 module and PIN file among the settings, for keys given as `pkcs11:` URIs. */
export function pkcs11Of(values: Readonly<Record<string, unknown>>): Pkcs11Settings {
  return { module: values.pkcs11Module as string | undefined, pinFile: values.pkcs11PinFile as string | undefined };
}

/** The TLS files among the settings: CA bundle, certificate and key required, CRLs optional. */
export function tlsPathsOf(
  command: string,
  settings: CommandSettings,
  specs: Readonly<Record<'ca' | 'cert' | 'key', OptionSpec>>,
): TlsPaths {
  return {
    ca: requireSetting<string>(command, settings, specs.ca),
    cert: requireSetting<string>(command, settings, specs.cert),
    key: requireSetting<string>(command, settings, specs.key),
    crl: (settings.values.tlsCrl as string[] | undefined) ?? [],
    ...tokenObjectReaders(pkcs11Of(settings.values)),
  };
}

/**
 * A server's TLS files as one reloadable: re-read together (checked the same way as at start, so
 * a certificate without its new key is refused and the old pair kept) on SIGHUP or when one of
 * them changes; `apply` installs them.
 */
export function tlsReloadable(paths: TlsPaths, apply: (tls: TlsFiles) => void): Reloadable {
  return {
    name: 'tls',
    files: [paths.ca, paths.cert, paths.key, ...(paths.crl ?? [])],
    reload: async () => apply(await loadTlsFiles(paths)),
  };
}

/** The admin listener, in every server's --help. */
export const ADMIN_USAGE = `  --admin-port N serves Prometheus /metrics, /healthz and /readyz over plain HTTP on
  --admin-host ADDR (default 127.0.0.1); no client certificate there, nothing secret
  (docs/operations.md lists every metric).`;

const D = SERVER_LIMIT_DEFAULTS;
export const SERVER_OPTIONS_USAGE = `  Every server: --config FILE reads these settings from a YAML file (keys in docs/configuration.md).
  Every flag can also be set as CERTBOUND_<FLAG> (--tls-cert: CERTBOUND_TLS_CERT; lists comma-
  separated, paths ':'-separated): a flag beats its variable, a variable the file's key.
  --tls-crl FILE (repeatable) refuses revoked client certificates. The TLS certificate, key, CA
  bundle and CRLs (and keys, see docs/cli.md) are re-read without dropping a request on SIGHUP
  and when they change on disk (renames and Kubernetes secret updates too; a broken or mismatched
  file keeps the last good one): --watch-debounce-ms MS (${DEFAULTS.server.watchDebounceMs}) gathers a change before the
  reload, 0 turns watching off (docs/file-watching.md).
  Limits: --handshake-timeout S (default: --headers-timeout) --max-connections N
  (${D.maxConnections}; beyond it new connections are closed at accept, 0 = off) --max-header-size BYTES
  (${D.maxHeaderSize}) --headers-timeout S (${D.headersTimeoutMs / 1000}) --request-timeout S (${D.requestTimeoutMs / 1000}) --keep-alive-timeout S (${D.keepAliveTimeoutMs / 1000})
  --max-in-flight N (${D.maxInFlight}; beyond it 503, 0 = off) --drain-timeout S (10: on SIGTERM, in-flight
  requests get this long before connections drop). Keys in hardware: --tls-key (and the STS's
  --jwt-key) take pkcs11:token=...;object=... URIs; --pkcs11-module F (default PKCS11_MODULE_PATH)
  --pkcs11-pin-file F (default CERTBOUND_PKCS11_PIN); docs/hardware-keys.md. Logs: one JSON line
  per event on stderr (human-readable on a terminal); --log-level trace|debug|info|warn|error|fatal|silent
  (default info); X-Request-Id is kept when sane, else made, echoed and logged (docs/logging.md).
${ADMIN_USAGE}`;
