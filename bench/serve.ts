// The bench's own servers, each run as a child process of the runner so that it is measured
// exactly like certbound's CLI servers: `node dist/bench/serve.js <kind> <pki dir>` prints
// `bench <kind> listening on https://127.0.0.1:PORT` and stops on SIGTERM.
//
//   reference          the hand-rolled minimal token endpoint (reference-sts.ts)
//   peer               oidc-provider (peer-oidc-provider.ts)
//   bare-tls           certbound's HTTPS server (same TLS settings and limits) answering a fixed
//                      token-sized body: the same handshakes, no token work
//   resource-noverify  certbound's resource server with verification off (a verifier that
//                      accepts every token): the same server minus the checks
//   grpc-plain         a grpc-js echo server (SayHello) over mutual TLS, no interceptor
//   grpc-intercepted   the same with certbound's server interceptor
//
// Each kind imports only what it runs (dynamic imports below), so that it starts quickly.
import { readFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { JSONWebKeySet } from 'jose';
import type { BoundTokenVerifier } from '../src/core/verify.js';
import type { ServerTlsOptions } from '../src/server/tls.js';
import { DEV_AUDIENCE, DEV_GRPC_AUDIENCE, DEV_ISSUER } from '../src/pki/dev-pki.js';

export const SERVER_KINDS = ['reference', 'peer', 'bare-tls', 'resource-noverify', 'grpc-plain', 'grpc-intercepted'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

/** What bare-tls answers: the shape and size of a token response, with no token work behind it. */
export const BARE_TLS_BODY = JSON.stringify({
  access_token: 'x'.repeat(560),
  issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  token_type: 'Bearer',
  expires_in: 3600,
});

interface Pki {
  dir: string;
  read(name: string): string;
  tls(name: 'sts' | 'server' | 'grpc'): ServerTlsOptions;
  jwks(): JSONWebKeySet;
}

function pkiAt(dir: string): Pki {
  const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
  return {
    dir,
    read,
    tls: (name) => ({ ca: read('ca.crt'), cert: read(`${name}.crt`), key: read(`${name}.key`) }),
    jwks: () => JSON.parse(read('jwks.json')) as JSONWebKeySet,
  };
}

interface Running {
  url: string;
  close(): Promise<void>;
}

function listenHttps(server: HttpsServer): Promise<Running> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `https://127.0.0.1:${port}`,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

function acceptEveryToken(): BoundTokenVerifier {
  return {
    verify: async (_token, thumbprint) => {
      if (thumbprint === undefined) throw new Error('bench: no client certificate');
      return { subject: 'alice', clientId: 'alice', scopes: [], thumbprint, claims: { sub: 'alice' }, header: { alg: 'ES256' } };
    },
  };
}

async function startGrpc(pki: Pki, intercepted: boolean): Promise<Running> {
  const { Server: GrpcServer, ServerCredentials } = await import('@grpc/grpc-js');
  const { createBoundTokenVerifier } = await import('../src/core/verify.js');
  const { loadEchoDefinitions } = await import('../src/cli/servers/echo-server.js');
  const { createServerInterceptor, verifiedTokenOf } = await import('../src/grpc/server-interceptor.js');
  const options = { 'grpc.max_concurrent_streams': 100, 'grpc.max_receive_message_length': 64 * 1024 };
  const { withVerificationCache } = await import('../src/core/verification-cache.js');
  // As certbound grpc-server builds it, with its default --token-cache 10000.
  const verifier = withVerificationCache(createBoundTokenVerifier({ keys: pki.jwks(), issuer: DEV_ISSUER, audience: DEV_GRPC_AUDIENCE }), {
    maxEntries: 10_000,
  });
  const server = new GrpcServer(intercepted ? { ...options, interceptors: [createServerInterceptor({ verifier })] } : options);
  server.addService(loadEchoDefinitions().EchoServer.service, {
    SayHello(call: ServerUnaryCall<{ name: string }, { message: string }>, callback: sendUnaryData<{ message: string }>) {
      const subject = verifiedTokenOf(call)?.subject ?? 'anonymous';
      callback(null, { message: `Hello ${call.request.name} (${subject})` });
    },
  });
  const tls = pki.tls('grpc');
  const credentials = ServerCredentials.createSsl(
    Buffer.from(tls.ca),
    [{ private_key: Buffer.from(tls.key as string), cert_chain: Buffer.from(tls.cert) }],
    true,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  return {
    url: `https://127.0.0.1:${port}`,
    close: () => new Promise((done) => server.tryShutdown(() => done())),
  };
}

export async function startServerKind(kind: ServerKind, dir: string): Promise<Running> {
  const pki = pkiAt(dir);
  const kid = String(pki.jwks().keys[0]?.kid);
  switch (kind) {
    case 'reference': {
      const { createReferenceSts } = await import('./reference-sts.js');
      return listenHttps(
        createReferenceSts({ tls: pki.tls('sts'), signingKeyPem: pki.read('jwt.key'), kid, issuer: DEV_ISSUER, audience: DEV_AUDIENCE }),
      );
    }
    case 'peer': {
      const { createPeerServer } = await import('./peer-oidc-provider.js');
      return listenHttps(
        createPeerServer({
          tls: pki.tls('sts'),
          signingKeyPem: pki.read('jwt.key'),
          kid,
          issuer: DEV_ISSUER,
          audience: DEV_AUDIENCE,
          clientCertificatePem: pki.read('alice.crt'),
        }),
      );
    }
    case 'bare-tls': {
      const { createLimitedHttpsServer } = await import('../src/server/https-server.js');
      const managed = createLimitedHttpsServer(pki.tls('sts'), {}, (req, res) => {
        req.resume();
        req.once('end', () =>
          res
            .writeHead(200, {
              'content-type': 'application/json',
              'cache-control': 'no-store',
              'content-length': Buffer.byteLength(BARE_TLS_BODY),
            })
            .end(BARE_TLS_BODY),
        );
      });
      const url = await managed.listen(0, '127.0.0.1');
      return { url: url.origin, close: () => managed.close() };
    }
    case 'resource-noverify': {
      // As `certbound resource` builds it (events on stderr included), minus the token checks.
      const { createResourceServer } = await import('../src/cli/servers/resource-server.js');
      const { logEvent } = await import('../src/cli/serve.js');
      const managed = createResourceServer({
        tls: pki.tls('server'),
        verifier: acceptEveryToken(),
        requiredScopes: [],
        metadata: { resource: DEV_AUDIENCE, authorizationServers: [DEV_ISSUER], scopes: [] },
        onEvent: logEvent('resource'),
      });
      const url = await managed.listen(0, '127.0.0.1');
      return { url: url.origin, close: () => managed.close() };
    }
    case 'grpc-plain':
      return startGrpc(pki, false);
    case 'grpc-intercepted':
      return startGrpc(pki, true);
  }
}

async function main(): Promise<void> {
  const [kind, dir] = process.argv.slice(2);
  if (!(SERVER_KINDS as readonly string[]).includes(kind ?? '') || dir === undefined) {
    process.stderr.write(`usage: node dist/bench/serve.js ${SERVER_KINDS.join('|')} <pki dir>\n`);
    process.exit(2);
  }
  const running = await startServerKind(kind as ServerKind, dir);
  const stop = (): void => {
    const deadline = setTimeout(() => process.exit(0), 2_000);
    deadline.unref();
    void running.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`bench ${kind} listening on ${running.url}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  void main().catch((error: unknown) => {
    process.stderr.write(`bench serve: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
