import type { FlagSpec } from '../../config/option.js';
import { flagName, parse, requireFlags, requireString } from '../args.js';
import { UsageError } from '../errors.js';
import { caddyGatewayConfig } from '../gateway/caddy.js';
import { nginxGatewayConfig, type GatewayConfigOptions } from '../gateway/nginx.js';
import { envoyGatewayConfig } from '../gateway/envoy.js';
import { traefikGatewayConfig } from '../gateway/traefik.js';

const GENERATORS: Record<string, (options: GatewayConfigOptions) => string> = {
  nginx: nginxGatewayConfig,
  caddy: caddyGatewayConfig,
  traefik: traefikGatewayConfig,
  // Envoy calls the gRPC Check service: --authz is the --grpc-port's HOST:PORT (a URL's host will do).
  envoy: (options) => envoyGatewayConfig(options, URL.canParse(options.authz) ? new URL(options.authz).host : options.authz),
};

export const configFlags: readonly FlagSpec[] = [
  { flag: 'listen', type: { kind: 'string' }, doc: 'ADDRESS:PORT the proxy listens on (mutual TLS)' },
  { flag: 'upstream', type: { kind: 'string' }, doc: 'the http(s) URL the proxy forwards allowed requests to' },
  { flag: 'authz', type: { kind: 'string' }, doc: "certbound authz's URL (envoy: the --grpc-port's HOST:PORT)" },
  { flag: 'tls-ca', type: { kind: 'path' }, doc: "the CA bundle client certificates must chain to, as the proxy's file" },
  { flag: 'tls-cert', type: { kind: 'path' }, doc: "the proxy's certificate, as the proxy's file" },
  { flag: 'tls-key', type: { kind: 'path' }, doc: 'its private key, as the proxy reads it' },
];

/** `certbound authz config PROXY ...`: print a hardened configuration for the proxy in front. */
export async function printConfig(argv: string[], usage: string): Promise<number> {
  const parsed = parse('authz config', argv, configFlags, 1);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const proxy = parsed.positionals[0];
  const generate = proxy === undefined ? undefined : GENERATORS[proxy];
  if (generate === undefined)
    throw new UsageError(
      `authz config: expected one of ${Object.keys(GENERATORS)
        .map((name) => `"authz config ${name}"`)
        .join(', ')}`,
    );
  requireFlags('authz config', parsed, ['listen', 'upstream', 'authz', 'tls-ca', 'tls-cert', 'tls-key']);
  const url = (flag: string): string => {
    const value = requireString('authz config', parsed, flag);
    if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol))
      throw new UsageError(`authz config: ${flagName(parsed, flag)} must be an http(s) URL`);
    return value;
  };
  const listen = requireString('authz config', parsed, 'listen');
  if (!/^(?:\[[0-9a-fA-F:]+\]|[0-9.]+|[A-Za-z0-9.-]+):\d{1,5}$/.test(listen))
    throw new UsageError(`authz config: ${flagName(parsed, 'listen')} must be ADDRESS:PORT`);
  const options = {
    listen,
    upstream: url('upstream'),
    authz: proxy === 'envoy' ? requireString('authz config', parsed, 'authz') : url('authz'),
    clientCa: requireString('authz config', parsed, 'tls-ca'),
    tlsCert: requireString('authz config', parsed, 'tls-cert'),
    tlsKey: requireString('authz config', parsed, 'tls-key'),
  };
  let config: string;
  try {
    config = generate(options);
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`authz config ${proxy}: ${error.message}`);
    throw error;
  }
  process.stdout.write(config);
  return 0;
}
