import { startOperations } from '../operations.js';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { AUTHZ_SETTINGS } from '../../config/authz-settings.js';
import type { CommandOption, OptionSpec } from '../../config/option.js';
import { LISTEN_SETTINGS } from '../../config/server-settings.js';
import { DEFAULTS } from '../../defaults.js';
import { readText } from '../../files/read.js';
import type { AuthzEvent } from '../../core/gateway-authorizer.js';
import { createAuthzHandler } from '../../http/authz.js';
import { UNIX_PEERS } from '../../http/trusted-proxy.js';
import type { ForwardedCertificateFormat } from '../../http/forwarded-certificate.js';
import { listenOn } from '../../server/listen.js';
import { withRequestIds } from '../../server/request-id.js';
import { parse } from '../args.js';
import { printConfig } from './authz-config.js';
import { authzDecisionSettings } from './authz-options.js';
import { UsageError } from '../errors.js';
import { logLevelOf } from '../log.js';
import { jwksReloadable, loadVerifier } from '../protected-server.js';
import { reloadOnChange } from '../reload.js';
import { logEvent, serveUntilSignalled } from '../serve.js';
import { CONFIG_FLAG } from '../config-flag.js';
import { ADMIN_USAGE, commandSettings, flagOf, requireSetting, requireSettings, type CommandSettings } from '../settings.js';

export const usage = `certbound authz [--config FILE] (--port N | --socket PATH) --jwks FILE_OR_URL --issuer I --audience A ...
                 --client-cert-format pem-urlencoded|rfc9440|xfcc|traefik
                 --rule 'METHOD PREFIX [SCOPE ...] [aud=AUDIENCE ...]' ... [--default-rule '[SCOPE ...]'|any]
                 [--identity-header subject|client-id|scope|thumbprint=NAME ...] [--envoy-path-prefix PATH] [--grpc-port N]
                 [--client-cert-header NAME] [--xfcc-hops N] [--trusted-proxy ADDR_OR_CIDR ...] [--jwks-ca F]
                 [--host ADDR] [--token-cache ENTRIES] [--jwks-max-stale S] [--clock-skew S] [--start-without-jwks] [--drain-timeout S]
                 [--watch-debounce-ms MS] [--admin-port N [--admin-host ADDR]]
                 [--log-level trace|debug|info|warn|error|fatal|silent]
  The external authorization server a proxy calls for every request (nginx auth_request, Caddy
  forward_auth, Traefik ForwardAuth, Envoy ext_authz): the certificate from the proxy's header
  (--client-cert-format), accepted only from --trusted-proxy (default 127.0.0.1 and ::1), the bound
  token from Authorization, then the rules: --rule 'GET /orders/ read' (METHOD * for any; the
  longest matching prefix decides; no rule matching is 403 unless --default-rule says what it
  needs). 200 carries X-Certbound-Subject, -Client-Id, -Scope and -Thumbprint for the upstream;
  401/403 the RFC 6750 challenge. Plain HTTP on 127.0.0.1 (or a 0660 Unix socket): the proxy is
  its only client. Envoy's HTTP service: --envoy-path-prefix, --client-cert-format xfcc; its gRPC
  Authorization/Check (Envoy, Istio): --grpc-port, the certificate from the CheckRequest.
  A JWKS URL is fetched before listening (exit 1 when it cannot be; --start-without-jwks listens
  anyway, /readyz not ready until it is). SIGHUP re-reads a --jwks file (or re-fetches the URL); a file is also re-read when it changes on
  disk (--watch-debounce-ms MS, 300, gathers the change; 0 = SIGHUP only).
  --config FILE reads these settings from a YAML file; every flag can also be set as
  CERTBOUND_<FLAG> (--rule: CERTBOUND_RULE, comma-separated), a flag beating its variable and a
  variable the file's key (docs/configuration.md).

certbound authz config nginx|caddy|traefik|envoy --listen ADDR:PORT --upstream URL --authz URL --tls-ca F --tls-cert F --tls-key F
  Print a configuration for the proxy in front that terminates mutual TLS and asks certbound
  authz about every request (docs/gateway.md): an nginx server block (for http {}), a Caddyfile,
  Traefik dynamic configuration (YAML), or an Envoy bootstrap calling --authz HOST:PORT, the
  --grpc-port (Envoy 1.25 or later). Each forwards the certificate in its own format: start
  authz with the --client-cert-format the output names.
${ADMIN_USAGE}`;

export const flags: readonly CommandOption[] = [CONFIG_FLAG, ...AUTHZ_SETTINGS];

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'config') return printConfig(argv.slice(1), usage);
  const parsed = parse('authz', argv, flags);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const settings = await commandSettings('authz', AUTHZ_SETTINGS, parsed);
  const [HOST, PORT] = LISTEN_SETTINGS;
  const socket = settings.values.socket as string | undefined;
  if (socket !== undefined && (settings.values[PORT.option] !== undefined || settings.values[HOST.option] !== undefined))
    throw new UsageError('authz: --socket replaces --host and --port: give one or the other');
  // Everything missing in one message, before anything starts.
  const required = ['client-cert-format', 'jwks', 'issuer', 'audience'].map(
    (flag) => AUTHZ_SETTINGS.find((spec) => spec.flag === flag) as OptionSpec,
  );
  requireSettings('authz', settings, socket === undefined ? [PORT, ...required] : required);
  const port = socket === undefined ? requireSetting<number>('authz', settings, PORT) : 0;
  const format = settings.values.clientCertFormat as ForwardedCertificateFormat;
  const decision = authzDecisionSettings(settings);
  const operations = await startOperations('authz', logEvent('authz', logLevelOf(settings.values.logLevel)), settings.values);
  const log = operations.onEvent;
  const jwksCa = settings.values.jwksCa as string | undefined;
  const ca = jwksCa === undefined ? undefined : await readText(jwksCa, 'JWKS CA bundle');
  const { verifier, keys } = await loadVerifier('authz', settings, ca, log, operations);
  const header = settings.values.clientCertHeader as string | undefined;
  const hops = settings.values.xfccHops as number | undefined;
  if (hops !== undefined && format !== 'xfcc')
    throw new UsageError(`authz: ${nameOfOption(settings, 'xfccHops')} applies to --client-cert-format xfcc only`);
  const envoyPathPrefix = settings.values.envoyPathPrefix as string | undefined;
  const logDecision = (event: AuthzEvent): void =>
    log(
      event.type === 'authz.allowed'
        ? {
            type: event.type,
            method: event.method,
            path: event.path,
            subject: event.token.subject,
            thumbprint: event.token.thumbprint,
            ...(event.requestId === undefined ? {} : { requestId: event.requestId }),
          }
        : {
            type: event.type,
            method: event.method,
            path: event.path,
            code: event.error.code,
            detail: event.error.detail ?? event.error.description,
            ...(event.requestId === undefined ? {} : { requestId: event.requestId }),
          },
    );
  let handler;
  try {
    handler = createAuthzHandler({
      verifier,
      trustedProxy: {
        // The proxy is authz's only client: loopback, or whoever the socket's 0660 mode lets in.
        addresses: (settings.values.trustedProxies as string[] | undefined) ?? (socket === undefined ? ['127.0.0.1', '::1'] : [UNIX_PEERS]),
        format,
        ...(header === undefined ? {} : { header }),
        ...(hops === undefined ? {} : { xfccHops: hops }),
      },
      rules: decision.rules,
      ...(decision.defaultRule === undefined ? {} : { defaultRule: decision.defaultRule }),
      identityHeaders: decision.identityHeaders,
      ...(envoyPathPrefix === undefined ? {} : { envoyPathPrefix }),
      onEvent: logDecision,
    });
  } catch (error) {
    if (error instanceof TypeError)
      throw new UsageError(`authz: ${error.message.replace(/^"(\w+)"/, (_, name: string) => nameOfOption(settings, name))}`);
    throw error;
  }
  // Bounded like every certbound server: a slow or oversized request is cut off, never waited on.
  const server = createServer(
    {
      headersTimeout: DEFAULTS.server.headersTimeoutMs,
      requestTimeout: DEFAULTS.server.requestTimeoutMs,
      maxHeaderSize: DEFAULTS.server.maxHeaderSize,
    },
    withRequestIds(handler),
  );
  refuseUnparsable(server, log);
  operations.countServer(server);
  const host = (settings.values[HOST.option] as string | undefined) ?? DEFAULTS.server.host;
  const grpcPort = settings.values.grpcPort as number | undefined;
  // Loaded only when asked for: the gRPC packages are optional peers.
  const envoy =
    grpcPort === undefined
      ? undefined
      : await (
          await import('../servers/envoy-check-server.js')
        ).startEnvoyCheckServer({
          verifier,
          rules: decision.rules,
          ...(decision.defaultRule === undefined ? {} : { defaultRule: decision.defaultRule }),
          identityHeaders: decision.identityHeaders,
          host,
          port: grpcPort,
          onEvent: logDecision,
        });
  const reloading = await reloadOnChange(log, [jwksReloadable(settings, keys)], settings.values.watchDebounceMs as number | undefined);
  try {
    return await serveUntilSignalled(
      'authz',
      {
        listen: (listenPort, host) => (socket === undefined ? listenHttp(server, listenPort, host) : listenOnSocket(server, socket)),
        close: async () => {
          await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), envoy?.close()]);
        },
        forceClose: () => {
          server.closeAllConnections();
          envoy?.forceClose();
        },
      },
      port,
      socket ?? host,
      envoy === undefined ? '' : ` (Envoy gRPC Check on ${envoy.address})`,
      settings.values.drainTimeoutMs as number | undefined,
      operations,
    );
  } finally {
    reloading.close();
  }
}

/** A library option's setting as it was given (`--client-cert-header`, CERTBOUND_CLIENT_CERT_HEADER). */
function nameOfOption(settings: CommandSettings, option: string): string {
  const spec = AUTHZ_SETTINGS.find((candidate) => candidate.option === option);
  return spec === undefined ? option : flagOf(settings, spec);
}

async function listenHttp(server: Server, port: number, host: string): Promise<URL> {
  const url = await listenOn(server, port, host);
  url.protocol = 'http:';
  return url;
}

/**
 * A Unix socket only the owner and its group may connect to (0660: put the proxy's user in
 * authz's group). A socket file left by an earlier run is replaced; any other file is not.
 */
async function listenOnSocket(server: Server, path: string): Promise<URL> {
  const existing = await lstat(path).catch(() => undefined);
  if (existing !== undefined) {
    if (!existing.isSocket()) throw Object.assign(new Error(`${path} exists and is not a socket`), { code: 'EEXIST' });
    await unlink(path);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o660);
  return new URL(`unix:${path}`);
}

/**
 * A request node cannot parse (a header past the size limit, garbage on the wire) never reaches
 * the handler: it is refused here, with the reason logged, never an allow.
 */
function refuseUnparsable(server: Server, log: (event: Record<string, unknown>) => void): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    log({
      type: 'authz.refused',
      code: tooLarge ? 'CB_REQUEST_TOO_LARGE' : 'CB_AUTHORIZATION_MALFORMED',
      detail: error.code ?? 'unparsable request',
    });
    if (!socket.writable) return void socket.destroy();
    socket.end(
      `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
    );
  });
}
