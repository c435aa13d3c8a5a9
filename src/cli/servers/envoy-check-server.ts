import { Server, ServerCredentials } from '@grpc/grpc-js';
import { isIP } from 'node:net';
import type { GatewayAuthorizerOptions } from '../../core/gateway-authorizer.js';
import { DEFAULTS } from '../../defaults.js';
import { createEnvoyAuthorizationService } from '../../grpc/ext-authz.js';

export interface EnvoyCheckServerOptions extends GatewayAuthorizerOptions {
  /** Default 127.0.0.1: Envoy beside it is the only client. */
  host?: string;
  /** Default 0: any free port (read it from the result). */
  port?: number;
}

export interface EnvoyCheckServer {
  /** `host:port` as bound (IPv6 bracketed): what the Envoy cluster and `authz config envoy` take. */
  address: string;
  port: number;
  /** Stop accepting calls and wait for the running ones to finish. */
  close(): Promise<void>;
  /** Cancel every running call now. */
  forceClose(): void;
}

/**
 * The gRPC server of `certbound authz --grpc-port`: Envoy's `Authorization/Check`
 * (createEnvoyAuthorizationService) over plaintext HTTP/2 on `host:port`, loopback by default.
 * It has no TLS of its own because the proxy beside it is its only client, and whoever can reach
 * it can ask about any certificate: bind it to loopback or a private interface only. Elsewhere,
 * use createEnvoyAuthorizationService on a grpc.Server of your own, bound to a Unix socket
 * (`unix:/run/certbound/authz.sock`, with Envoy's `pipe` address) or with mutual TLS
 * (`ServerCredentials.createSsl(ca, [pair], true)` and a `transport_socket` on Envoy's cluster).
 * @throws ConfigError for bad authorizer options, before anything listens.
 */
export async function startEnvoyCheckServer(options: EnvoyCheckServerOptions): Promise<EnvoyCheckServer> {
  const { host = DEFAULTS.server.host, port = 0, ...authorizer } = options;
  const { definition, implementation } = createEnvoyAuthorizationService(authorizer);
  const server = new Server({ 'grpc.max_receive_message_length': DEFAULTS.grpc.checkRequestMaxBytes });
  server.addService(definition, implementation);
  const hostPart = isIP(host) === 6 ? `[${host}]` : host;
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${hostPart}:${port}`, ServerCredentials.createInsecure(), (error, boundPort) =>
      error === null ? resolve(boundPort) : reject(error),
    ),
  );
  return {
    address: `${hostPart}:${bound}`,
    port: bound,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
    forceClose: () => server.forceShutdown(),
  };
}
