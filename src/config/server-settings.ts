import { DEFAULTS } from '../defaults.js';
import { LIMIT_OPTIONS } from './limits.js';
import type { OptionSpec } from './option.js';

/**
 * The settings every certbound server command takes (sts, resource, grpc-server): where it
 * listens, its TLS material, how long a drain may take, and its limits. The port's default is the
 * command's own (8081 for the STS; the others require one).
 */
export const LISTEN_SETTINGS = [
  { option: 'host', key: 'host', flag: 'host', type: { kind: 'string' }, doc: `address to bind (default ${DEFAULTS.server.host})` },
  { option: 'port', key: 'port', flag: 'port', type: { kind: 'integer', min: 0, max: 65535 }, doc: 'TCP port; 0 picks a free one' },
  {
    option: 'drainTimeoutMs',
    key: 'drain_timeout',
    flag: 'drain-timeout',
    type: { kind: 'seconds', min: 0, max: 3600 },
    doc: 'on SIGTERM, how long in-flight work may take',
  },
  {
    option: 'adminPort',
    key: 'admin.port',
    flag: 'admin-port',
    type: { kind: 'integer', min: 0, max: 65535 },
    doc: 'serve /metrics, /healthz and /readyz over plain HTTP on this port (default: no admin listener)',
  },
  {
    option: 'adminHost',
    key: 'admin.host',
    flag: 'admin-host',
    type: { kind: 'string' },
    doc: `address of the admin listener (default ${DEFAULTS.server.host}: nothing there needs a certificate)`,
  },
] as const satisfies readonly OptionSpec[];

export const TLS_SETTINGS = [
  { option: 'tlsCa', key: 'tls.ca', flag: 'tls-ca', type: { kind: 'path' }, doc: 'CA bundle client certificates must chain to' },
  {
    option: 'tlsCert',
    key: 'tls.cert',
    flag: 'tls-cert',
    type: { kind: 'path-or-pkcs11' },
    doc: "the server's certificate (chain): a file, or a pkcs11: URI of a certificate in the token",
  },
  { option: 'tlsKey', key: 'tls.key', flag: 'tls-key', type: { kind: 'path-or-pkcs11' }, doc: 'its private key: a file, or a pkcs11: URI' },
  { option: 'tlsCrl', key: 'tls.crl', flag: 'tls-crl', type: { kind: 'paths' }, doc: 'CRLs of the CAs that issue client certificates' },
] as const satisfies readonly OptionSpec[];

/** The admin listener's settings (--admin-port, --admin-host), which a --workers primary reads on its own. */
export const ADMIN_SETTINGS: readonly OptionSpec[] = LISTEN_SETTINGS.filter((spec) => spec.key.startsWith('admin.'));

/** Where keys given as `pkcs11:` URIs are (docs/hardware-keys.md). */
export const PKCS11_SETTINGS = [
  {
    option: 'pkcs11Module',
    key: 'pkcs11.module',
    flag: 'pkcs11-module',
    type: { kind: 'path' },
    doc: 'the PKCS#11 module (shared library) holding pkcs11: keys (default: PKCS11_MODULE_PATH)',
  },
  {
    option: 'pkcs11PinFile',
    key: 'pkcs11.pin_file',
    flag: 'pkcs11-pin-file',
    type: { kind: 'path' },
    doc: "a file holding the token's user PIN, a final newline ignored (default: CERTBOUND_PKCS11_PIN)",
  },
] as const satisfies readonly OptionSpec[];

/** Files followed on disk and reloaded like SIGHUP (docs/file-watching.md): every server, authz too. */
export const WATCH_SETTING = {
  option: 'watchDebounceMs',
  key: 'watch_debounce_ms',
  flag: 'watch-debounce-ms',
  type: { kind: 'integer', min: 0, max: 60_000 },
  doc: `after a followed file changes, how long to gather the rest of the change before reloading, in ms (${DEFAULTS.server.watchDebounceMs}; 0: no watching, SIGHUP only)`,
} as const satisfies OptionSpec;

/** sts and resource run one process per core unless told otherwise (node:cluster). */
export const WORKERS_SETTING = {
  option: 'workers',
  key: 'workers',
  flag: 'workers',
  type: { kind: 'integer', min: 1, max: 256 },
  doc: 'processes sharing the port (default: one per core)',
} as const satisfies OptionSpec;

/** How much every server logs (docs/logging.md). */
export const LOG_LEVEL_SETTING = {
  option: 'logLevel',
  key: 'log_level',
  flag: 'log-level',
  type: { kind: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
  doc: 'the least severe events logged (default info); silent logs nothing',
} as const satisfies OptionSpec;

export const SERVER_SETTINGS: readonly OptionSpec[] = [
  ...LISTEN_SETTINGS,
  ...TLS_SETTINGS,
  ...PKCS11_SETTINGS,
  ...LIMIT_OPTIONS,
  WATCH_SETTING,
  LOG_LEVEL_SETTING,
];
