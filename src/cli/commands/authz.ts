import { createServer } from 'node:http';
import { AUTHZ_SETTINGS } from '../../config/authz-settings.js';
import { parseAuthzRule, type AuthzRule } from '../../core/authz-rules.js';
import { LISTEN_SETTINGS } from '../../config/server-settings.js';
import { DEFAULTS } from '../../defaults.js';
import { readText } from '../../files/read.js';
import { createAuthzHandler } from '../../http/authz.js';
import type { ForwardedCertificateFormat } from '../../http/forwarded-certificate.js';
import { listenOn } from '../../server/listen.js';
import { parse, requireString } from '../args.js';
import { UsageError } from '../errors.js';
import { caddyGatewayConfig } from '../gateway/caddy.js';
import { nginxGatewayConfig } from '../gateway/nginx.js';
import { loadVerifier } from '../protected-server.js';
import { logEvent, reloadOnHangup, serveUntilSignalled } from '../serve.js';
import { commandSettings, flagOptions, requireSetting } from '../settings.js';

export const usage = `certbound authz [--config FILE] --port N --jwks FILE_OR_URL --issuer I --audience A ...
                 --client-cert-format rfc9440|xfcc|pem-urlencoded --rule 'METHOD PREFIX [SCOPE ...]' ...
                 [--client-cert-header NAME] [--xfcc-hops N] [--trusted-proxy ADDR_OR_CIDR ...] [--jwks-ca F]
                 [--host ADDR] [--token-cache ENTRIES] [--jwks-max-stale S] [--clock-skew S] [--drain-timeout S]
  The external authorization server a proxy calls for every request (nginx auth_request, Caddy
  forward_auth, Traefik ForwardAuth; Envoy not yet): the certificate from the proxy's
  header (--client-cert-format), accepted only from --trusted-proxy (default 127.0.0.1 and ::1),
  the bound token from Authorization, then the rules: --rule 'GET /orders/ read' (METHOD * for
  any; the longest matching prefix decides; no rule matching is 403). 200 carries
  X-Certbound-Subject, -Client-Id, -Scope and -Thumbprint for the upstream; 401/403 the RFC 6750
  challenge. It speaks plain HTTP on 127.0.0.1: the proxy is its only client.

certbound authz config nginx|caddy --listen ADDR:PORT --upstream URL --authz URL --tls-ca F --tls-cert F --tls-key F
  Print an nginx server block (for http {}) or a Caddyfile that terminates mutual TLS and asks
  certbound authz about every request (docs/gateway.md). nginx forwards the certificate as
  pem-urlencoded, Caddy as rfc9440: start authz with the matching --client-cert-format.`;

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'config') return printConfig(argv.slice(1));
  const parsed = parse('authz', argv, { config: { type: 'string' }, ...flagOptions(AUTHZ_SETTINGS) });
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const settings = await commandSettings('authz', AUTHZ_SETTINGS, parsed);
  const [HOST, PORT] = LISTEN_SETTINGS;
  const port = requireSetting<number>('authz', settings, PORT);
  const format = settings.values.clientCertFormat as ForwardedCertificateFormat | undefined;
  if (format === undefined) throw new UsageError('authz: --client-cert-format is required: how the proxy forwards the certificate');
  const ruleTexts = (settings.values.rules as string[] | undefined) ?? [];
  if (ruleTexts.length === 0)
    throw new UsageError("authz: at least one --rule 'METHOD PREFIX [SCOPE ...]' is required; no rule means no access");
  let rules: AuthzRule[];
  try {
    rules = ruleTexts.map(parseAuthzRule);
  } catch (error) {
    throw new UsageError(`authz: --${(error as Error).message}`);
  }
  const log = logEvent('authz');
  const jwksCa = settings.values.jwksCa as string | undefined;
  const ca = jwksCa === undefined ? undefined : await readText(jwksCa, 'JWKS CA bundle');
  const { verifier, keys } = await loadVerifier('authz', settings, ca, log);
  const header = settings.values.clientCertHeader as string | undefined;
  const hops = settings.values.xfccHops as number | undefined;
  if (hops !== undefined && format !== 'xfcc') throw new UsageError('authz: --xfcc-hops applies to --client-cert-format xfcc only');
  let handler;
  try {
    handler = createAuthzHandler({
      verifier,
      trustedProxy: {
        addresses: (settings.values.trustedProxies as string[] | undefined) ?? ['127.0.0.1', '::1'],
        format,
        ...(header === undefined ? {} : { header }),
        ...(hops === undefined ? {} : { xfccHops: hops }),
      },
      rules,
      onEvent: (event) =>
        log(
          event.type === 'authz.allowed'
            ? { type: event.type, method: event.method, path: event.path, subject: event.token.subject, thumbprint: event.token.thumbprint }
            : {
                type: event.type,
                method: event.method,
                path: event.path,
                code: event.error.code,
                detail: event.error.detail ?? event.error.description,
              },
        ),
    });
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`authz: ${error.message}`);
    throw error;
  }
  // Bounded like every certbound server: a slow or oversized request is cut off, never waited on.
  const server = createServer(
    {
      headersTimeout: DEFAULTS.server.headersTimeoutMs,
      requestTimeout: DEFAULTS.server.requestTimeoutMs,
      maxHeaderSize: DEFAULTS.server.maxHeaderSize,
    },
    handler,
  );
  reloadOnHangup(log, [{ name: 'jwks', reload: () => keys.refresh() }]);
  return serveUntilSignalled(
    'authz',
    {
      listen: async (listenPort, host) => {
        const url = await listenOn(server, listenPort, host);
        url.protocol = 'http:';
        return url;
      },
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
      forceClose: () => server.closeAllConnections(),
    },
    port,
    (settings.values[HOST.option] as string | undefined) ?? DEFAULTS.server.host,
    '',
    settings.values.drainTimeoutMs as number | undefined,
  );
}

async function printConfig(argv: string[]): Promise<number> {
  const parsed = parse(
    'authz config',
    argv,
    {
      listen: { type: 'string' },
      upstream: { type: 'string' },
      authz: { type: 'string' },
      'tls-ca': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
    },
    1,
  );
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const proxy = parsed.positionals[0];
  if (proxy !== 'nginx' && proxy !== 'caddy')
    throw new UsageError('authz config: expected "authz config nginx" or "authz config caddy" (envoy and traefik are not written yet)');
  const url = (flag: string): string => {
    const value = requireString('authz config', parsed, flag);
    if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol))
      throw new UsageError(`authz config: --${flag} must be an http(s) URL`);
    return value;
  };
  const listen = requireString('authz config', parsed, 'listen');
  if (!/^(?:\[[0-9a-fA-F:]+\]|[0-9.]+|[A-Za-z0-9.-]+):\d{1,5}$/.test(listen))
    throw new UsageError('authz config: --listen must be ADDRESS:PORT');
  process.stdout.write(
    (proxy === 'nginx' ? nginxGatewayConfig : caddyGatewayConfig)({
      listen,
      upstream: url('upstream'),
      authz: url('authz'),
      clientCa: requireString('authz config', parsed, 'tls-ca'),
      tlsCert: requireString('authz config', parsed, 'tls-cert'),
      tlsKey: requireString('authz config', parsed, 'tls-key'),
    }),
  );
  return 0;
}
