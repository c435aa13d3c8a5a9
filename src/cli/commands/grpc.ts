import type { ServiceError } from '@grpc/grpc-js';
import { GRPC_LIMITS, LIMIT_OPTIONS, SERVER_LIMIT_DEFAULTS } from '../../config/limits.js';
import type { CommandOption, OptionSpec } from '../../config/option.js';
import { GRPC_SERVER_SETTINGS } from '../../config/protected-settings.js';
import { LISTEN_SETTINGS } from '../../config/server-settings.js';
import { startOperations } from '../operations.js';
import { DEFAULTS } from '../../defaults.js';
import { optionalString, parse } from '../args.js';
import { OperationFailed, UsageError } from '../errors.js';
import { flagUsageError } from '../flag-errors.js';
import { logLevelOf } from '../log.js';
import { loadProtectedServer } from '../protected-server.js';
import { reloadOnChange } from '../reload.js';
import { logEvent, serveUntilSignalled } from '../serve.js';
import { CONFIG_FLAG } from '../config-flag.js';
import { ADMIN_USAGE, commandSettings, limitsOf, nameOf, requireSetting, requireSettings } from '../settings.js';
import { CLIENT_FLAGS, exchangeOptionsOf, followClientIdentity, STS_SERVERNAME_FLAG } from './client.js';

export const serverUsage = `certbound grpc-server [--config FILE] --port N --tls-ca F --tls-cert F --tls-key F --jwks FILE_OR_URL
                       --issuer I --audience A [--audience A2 ...] [--host ADDR]
                       [--max-streams N] [--token-cache ENTRIES] [--jwks-max-stale S] [--clock-skew S] [--start-without-jwks]
                       [--tls-crl F ...] [--handshake-timeout S] [--max-connections N] [--drain-timeout S]
                       [--watch-debounce-ms MS] [--admin-port N [--admin-host ADDR]]
                       [--log-level trace|debug|info|warn|error|fatal|silent]
  Run a gRPC server (TLS; a client certificate from --tls-ca is required at the handshake)
  serving echo.EchoServer (SayHello, SayHelloStream, SayHelloToAll, SayHelloChat),
  grpc.health.v1.Health and server reflection. Every call except the health service needs
  'authorization: Bearer <token>' with a token bound to the caller's client certificate;
  anything else ends with UNAUTHENTICATED. --max-streams caps concurrent calls per connection
  (100). --token-cache keeps successful verifications as for resource (10000; 0 = off). A JWKS
  URL is fetched before listening, as for resource (exit 1 when it cannot be; --start-without-jwks).
  A revoked client certificate (--tls-crl) fails the handshake. SIGHUP re-reads the JWKS
  and the TLS files, and so does a change to them on disk (--watch-debounce-ms MS, 300, gathers
  it; 0 = SIGHUP only). --drain-timeout S (10): on SIGTERM, running calls get this long.
  --handshake-timeout S (${SERVER_LIMIT_DEFAULTS.handshakeTimeoutMs / 1000}) cuts off a peer that has not finished the TLS handshake;
  --max-connections N (${SERVER_LIMIT_DEFAULTS.maxConnections}; 0 = off) closes connections beyond it at accept. --config FILE
  reads these settings from a YAML file (keys in docs/configuration.md); every flag can also be
  set as CERTBOUND_<FLAG> (--tls-cert: CERTBOUND_TLS_CERT), a flag beating its variable and a
  variable the file's key. --tls-key pkcs11:token=...;object=... keeps the server key in a
  PKCS#11 token (--pkcs11-module F, --pkcs11-pin-file F; docs/hardware-keys.md). Logs: one JSON
  line per event on stderr (human-readable on a terminal) at --log-level (default info); a sane
  x-request-id metadata value is kept, else one is made, answered and logged (docs/logging.md).
${ADMIN_USAGE}`;

export const callUsage = `certbound grpc-call HOST:PORT --tls-ca F --tls-cert F --tls-key F --sts URL
                     (--subject-token T | --subject-token-file F) (--audience A | --resource R)...
                     [--servername NAME] [--sts-servername NAME] [--scope S] [--name TEXT]
                     [--subject-token-type URN] [--requested-token-type URN] [--client-id ID]
  Check the server's health, then call echo.EchoServer/SayHello with STS call credentials: the
  token is exchanged over mutual TLS with the same client certificate as the gRPC channel.
  Prints both answers. --servername is the name the gRPC server certificate is checked against
  (default: HOST). The certificate files are followed: rewritten, they give a new channel and a
  token for the new certificate together (docs/rotation.md). Exits 1 when the STS or the server refuses. --tls-key pkcs11:... keeps the key
  in a PKCS#11 token for both the STS and the channel (--pkcs11-module F, --pkcs11-pin-file F).`;

/** How long one RPC may take, STS exchange included (the exchange itself times out at 10 s). */
const RPC_DEADLINE_MS = DEFAULTS.grpc.callDeadlineMs;

const GRPC_PACKAGES = '@grpc/grpc-js @grpc/proto-loader @grpc/reflection grpc-health-check';

/** The gRPC modules, loaded only by the commands that need them (they are optional peers). */
export async function loadGrpc() {
  try {
    const [grpc, echo, credentials, channels] = await Promise.all([
      import('@grpc/grpc-js'),
      import('../servers/echo-server.js'),
      import('../../grpc/call-credentials.js'),
      import('../../grpc/channel-credentials.js'),
    ]);
    // grpc-js logs errors to stderr on its own ("E No address added..."); the CLI reports every
    // failure itself on one line, so its log is only wanted with --debug.
    if (!process.argv.includes('--debug')) grpc.setLogVerbosity(grpc.logVerbosity.NONE);
    return { grpc, echo, credentials, channels };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new UsageError(`the gRPC commands need the optional packages ${GRPC_PACKAGES}: npm install ${GRPC_PACKAGES}`);
    }
    throw error;
  }
}

export const serverFlags: readonly CommandOption[] = [CONFIG_FLAG, ...GRPC_SERVER_SETTINGS];

export const callFlags: readonly CommandOption[] = [
  ...CLIENT_FLAGS,
  STS_SERVERNAME_FLAG,
  { flag: 'name', type: { kind: 'string' }, doc: 'the name SayHello is sent' },
];

export async function runServer(argv: string[]): Promise<number> {
  const parsed = parse('grpc-server', argv, serverFlags);
  if (parsed.values.help === true) {
    process.stdout.write(`${serverUsage}\n`);
    return 0;
  }
  const settings = await commandSettings('grpc-server', GRPC_SERVER_SETTINGS, parsed);
  // A setting gRPC does not have is named before anything missing: it is the mistake to fix first.
  for (const spec of LIMIT_OPTIONS) {
    if (settings.values[spec.option] !== undefined && !GRPC_LIMITS.has(spec.option)) {
      const streams = settings.file !== undefined && settings.flagged?.has(spec.option) !== true ? 'max_streams' : '--max-streams';
      throw new UsageError(`grpc-server: ${nameOf(settings, spec)} applies to the HTTPS servers only (gRPC has ${streams})`);
    }
  }
  const [, PORT] = LISTEN_SETTINGS;
  const required = ['tls-ca', 'tls-cert', 'tls-key', 'jwks', 'issuer', 'audience'].map(
    (flag) => GRPC_SERVER_SETTINGS.find((spec) => spec.flag === flag) as OptionSpec,
  );
  requireSettings('grpc-server', settings, [PORT as OptionSpec, ...required]);
  const listenPort = requireSetting<number>('grpc-server', settings, PORT);
  // Every setting, and the optional packages, checked before the admin listener starts.
  const limits = limitsOf('grpc-server', settings);
  const maxStreams = settings.values.maxConcurrentStreams as number | undefined;
  const { echo } = await loadGrpc();
  const operations = await startOperations('grpc-server', logEvent('grpc-server', logLevelOf(settings.values.logLevel)), settings.values);
  const log = operations.onEvent;
  const { tls, verifier, reloadables } = await loadProtectedServer('grpc-server', settings, log, operations);
  const server = echo.createEchoServer({
    tls,
    verifier,
    onEvent: log,
    limits,
    ...(maxStreams === undefined ? {} : { maxConcurrentStreams: maxStreams }),
  });
  const reloading = await reloadOnChange(
    log,
    reloadables((files) => server.reloadTls(files)),
    settings.values.watchDebounceMs as number | undefined,
  );
  try {
    return await serveUntilSignalled(
      'grpc-server',
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

export async function runCall(argv: string[]): Promise<number> {
  const parsed = parse('grpc-call', argv, callFlags, 1);
  if (parsed.values.help === true) {
    process.stdout.write(`${callUsage}\n`);
    return 0;
  }
  const target = targetOf(parsed.positionals[0]);
  const { tls, options } = await exchangeOptionsOf('grpc-call', parsed, optionalString(parsed, 'sts-servername'));
  const servername = optionalString(parsed, 'servername');

  const { grpc, echo, credentials, channels } = await loadGrpc();
  const identity = await followClientIdentity('grpc-call', parsed, tls);
  const { tls: stsTls, ...exchangeOptions } = options;
  let sts;
  try {
    sts = credentials.createStsCredentials({
      ...exchangeOptions,
      identity,
      ...(stsTls.servername === undefined ? {} : { servername: stsTls.servername }),
    });
  } catch (error) {
    await identity.close();
    if (error instanceof TypeError) throw flagUsageError('grpc-call', parsed, error);
    throw error;
  }
  const channelOptions =
    servername === undefined ? {} : { 'grpc.ssl_target_name_override': servername, 'grpc.default_authority': servername };
  const { EchoServer, Health } = echo.loadEchoDefinitions();
  // The health service needs no token: check it over the same mTLS channel without call
  // credentials, so that a failure there is the server's or the network's, not the STS's.
  const tlsOnly = channels.mtlsChannelCredentials(identity.current());
  const health = new Health(target, tlsOnly, channelOptions);
  // Rebuilt with the new certificate and a token for it if the files change while this runs.
  const clients = sts.createClient((channel) => new EchoServer(target, channel, channelOptions));
  const unary = <T>(stub: InstanceType<typeof EchoServer>, method: string, request: object): Promise<T> =>
    new Promise((resolve, reject) => {
      const call = stub[method] as (request: object, options: object, callback: (error: ServiceError | null, reply: T) => void) => void;
      call.call(stub, request, { deadline: Date.now() + RPC_DEADLINE_MS }, (error, reply) =>
        error === null ? resolve(reply) : reject(rpcFailure(grpc.status, method, error)),
      );
    });
  try {
    const checked = await unary<{ status: string }>(health, 'Check', { service: '' });
    process.stdout.write(`health: ${checked.status}\n`);
    const reply = await unary<{ message: string }>(clients.current(), 'SayHello', { name: optionalString(parsed, 'name') ?? '' });
    process.stdout.write(`${reply.message}\n`);
    return 0;
  } finally {
    health.close();
    await sts.close();
    await identity.close();
  }
}

/** HOST:PORT, [V6]:PORT, or an https://HOST:PORT URL as the servers print it. */
function targetOf(raw: string | undefined): string {
  if (raw === undefined) throw new UsageError('grpc-call: HOST:PORT is required');
  const text = raw.startsWith('https://') ? raw.slice('https://'.length).replace(/\/$/, '') : raw;
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(text) || Number(text.slice(text.lastIndexOf(':') + 1)) > 65535) {
    throw new UsageError(`grpc-call: ${JSON.stringify(raw)} is not HOST:PORT`);
  }
  return text;
}

/** An RPC failure as one line: the status name and the server's (or call credentials') details. */
function rpcFailure(codes: Record<string, string | number>, method: string, error: ServiceError): OperationFailed {
  const name = Object.entries(codes).find(([, value]) => value === error.code)?.[0] ?? String(error.code);
  return new OperationFailed(`${method} failed: ${name}: ${error.details}`);
}
