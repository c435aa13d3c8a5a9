import { createServer as createTcpServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  loadPackageDefinition,
  Server,
  ServerCredentials,
  status,
  type GrpcObject,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceClientConstructor,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as HEALTH_PROTO } from 'grpc-health-check';
import type { BoundTokenVerifier, VerifiedToken } from '../../core/verify.js';
import { listenOn } from '../../server/listen.js';
import { resolveServerLimits, type ServerLimits } from '../../config/limits.js';
import { serverSecureContext, type ServerTlsOptions } from '../../server/tls.js';
import { createServerInterceptor, requestIdOf, verifiedTokenOf } from '../../grpc/server-interceptor.js';
import { DEFAULTS } from '../../defaults.js';
import * as v from 'valibot';
import { misuse } from '../../core/config-error.js';
import { isEngineKey } from '../../core/tls-key.js';
import { optionsObject, parseOptions } from '../../core/schema.js';

/** The seed's echo service definition, shipped with the package. */
export const ECHO_PROTO = fileURLToPath(new URL('../../../../proto/echo.proto', import.meta.url));
export const ECHO_SERVICE = 'echo.EchoServer';
/** Server-streaming replies per call: default and most. */
const DEFAULT_STREAM_COUNT = 3;
const MAX_STREAM_COUNT = 10;

interface EchoRequest {
  name: string;
}
interface EchoStreamRequest extends EchoRequest {
  count: number;
}
interface EchoReply {
  message: string;
}

let loaded: { definition: PackageDefinition; grpcObject: GrpcObject } | undefined;

/** echo.proto and the health proto, loaded once (the reflection service describes both). */
export function loadEchoDefinitions(): {
  definition: PackageDefinition;
  EchoServer: ServiceClientConstructor;
  Health: ServiceClientConstructor;
} {
  loaded ??= (() => {
    const definition = loadSync([ECHO_PROTO, HEALTH_PROTO], { keepCase: true, longs: Number, enums: String, defaults: true });
    return { definition, grpcObject: loadPackageDefinition(definition) };
  })();
  const EchoServer = (loaded.grpcObject.echo as GrpcObject).EchoServer as ServiceClientConstructor;
  const health = ((loaded.grpcObject.grpc as GrpcObject).health as GrpcObject).v1 as GrpcObject;
  return { definition: loaded.definition, EchoServer, Health: health.Health as ServiceClientConstructor };
}

export type EchoServerEvent =
  | { type: 'call.allowed'; requestId?: string; method: string; subject: string; clientId: string | undefined; thumbprint: string }
  | { type: 'call.refused'; requestId: string; method: string; peer: string; code: string; description: string; detail?: string };

export interface EchoServerOptions {
  /** CA for client certificates, and the server's own certificate and key (PEM). */
  tls: ServerTlsOptions;
  verifier: BoundTokenVerifier;
  /** Methods or services served without a token (default: the health service). */
  exempt?: readonly string[];
  /** Concurrent calls (HTTP/2 streams) per connection (default 100). */
  maxConcurrentStreams?: number;
  /** Largest request message in bytes (default 64 KiB: echo requests are names). */
  maxReceiveMessageBytes?: number;
  /** The TLS handshake timeout and the connection limit, as for the HTTPS servers. */
  limits?: Pick<ServerLimits, 'handshakeTimeoutMs' | 'maxConnections'>;
  onEvent?: (event: EchoServerEvent) => void;
}

export const GRPC_SERVER_DEFAULTS = {
  maxConcurrentStreams: DEFAULTS.grpc.maxConcurrentStreams,
  maxReceiveMessageBytes: DEFAULTS.grpc.maxReceiveMessageBytes,
};

export interface ManagedGrpcServer {
  server: Server;
  /** Bind host:port (default 127.0.0.1:0) and resolve to https://host:port. */
  listen(port?: number, host?: string): Promise<URL>;
  /** Stop accepting calls and wait for the running ones to finish. */
  close(): Promise<void>;
  /** Cancel every running call now. */
  forceClose(): void;
  /** New TLS material (certificate, key, CA bundle, CRL) for new connections; open ones keep theirs. */
  reloadTls(tls: ServerTlsOptions): void;
}

/**
 * grpc-js (1.10+) re-applies a credentials object's secure context to its listening servers when
 * updateSecureContextOptions is called; the method is public at run time but typed protected.
 */
type ReloadableCredentials = ServerCredentials & { updateSecureContextOptions(options: ReturnType<typeof serverSecureContext>): void };

const atLeastOne = 'must be an integer >= 1';
const count = (fallback: number) => v.optional(v.pipe(v.number(atLeastOne), v.integer(atLeastOne), v.minValue(1, atLeastOne)), fallback);
const ECHO_SERVER_OPTIONS = optionsObject(
  {
    maxConcurrentStreams: count(GRPC_SERVER_DEFAULTS.maxConcurrentStreams),
    maxReceiveMessageBytes: count(GRPC_SERVER_DEFAULTS.maxReceiveMessageBytes),
  },
  'echo server options must be an object',
  { loose: true },
);

/**
 * The `certbound grpc-server` server: echo.EchoServer (unary, server-, client- and
 * bidi-streaming), grpc.health.v1.Health and server reflection, behind the certbound interceptor.
 * The TLS layer requires a client certificate that chains to `tls.ca`; the interceptor requires a
 * token bound to it. Handlers greet the verified subject.
 */
export function createEchoServer(options: EchoServerOptions): ManagedGrpcServer {
  const onEvent = options.onEvent ?? (() => {});
  const interceptor = createServerInterceptor({
    verifier: options.verifier,
    ...(options.exempt === undefined ? {} : { exempt: options.exempt }),
    // Admitted calls are logged by the handlers, which know what the call asked for.
    onEvent: (event) => {
      if (event.type !== 'call.refused') return;
      const { error, method, peer, requestId } = event;
      onEvent({
        type: 'call.refused',
        method,
        peer,
        code: error.code,
        description: error.description,
        ...(error.detail === undefined ? {} : { detail: error.detail }),
        requestId,
      });
    },
  });
  const { maxConcurrentStreams: maxStreams, maxReceiveMessageBytes: maxMessage } = parseOptions(ECHO_SERVER_OPTIONS, options);
  const server = new Server({
    interceptors: [interceptor],
    'grpc.max_concurrent_streams': maxStreams,
    'grpc.max_receive_message_length': maxMessage,
  });
  const { definition, EchoServer } = loadEchoDefinitions();
  server.addService(
    EchoServer.service,
    echoImplementation((method, auth, requestId) =>
      onEvent({
        type: 'call.allowed',
        method,
        subject: auth.subject,
        clientId: auth.clientId,
        thumbprint: auth.thumbprint,
        ...(requestId === undefined ? {} : { requestId }),
      }),
    ),
  );
  new HealthImplementation({ '': 'SERVING', [ECHO_SERVICE]: 'SERVING' }).addToServer(server);
  new ReflectionService(definition).addToServer(server);
  const limits = resolveServerLimits(options.limits);
  const credentials = ServerCredentials.createSsl(
    Buffer.from(options.tls.ca),
    // A key in a token has no PEM: createSsl only checks for a Buffer, and the context options set
    // just below (with the engine key) replace these before anything listens.
    [
      {
        private_key: isEngineKey(options.tls.key) ? Buffer.alloc(0) : Buffer.from(options.tls.key),
        cert_chain: Buffer.from(options.tls.cert),
      },
    ],
    true,
  ) as ReloadableCredentials;
  if (typeof credentials.updateSecureContextOptions !== 'function') throw misuse('@grpc/grpc-js 1.10 or later is required');
  // grpc-js builds its TLS server from these options (so the handshake timeout reaches it) and
  // hands them to setSecureContext on reload. createSsl has no CRL or TLS floor of its own.
  const contextOf = (tls: ServerTlsOptions) => ({ ...serverSecureContext(tls), handshakeTimeout: limits.handshakeTimeoutMs });
  credentials.updateSecureContextOptions(contextOf(options.tls));
  // certbound owns the listening socket, so that connections are counted (and refused beyond the
  // limit) at accept, before any TLS work; grpc-js serves what it is handed.
  const injector = server.createConnectionInjector(credentials);
  const sockets = new Set<Socket>();
  const listener = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    injector.injectConnection(socket);
  });
  if (limits.maxConnections > 0) listener.maxConnections = limits.maxConnections;

  return {
    server,
    listen(port = 0, host = DEFAULTS.server.host) {
      return listenOn(listener, port, host);
    },
    close() {
      listener.close();
      return new Promise((resolve) => server.tryShutdown(() => resolve()));
    },
    forceClose() {
      listener.close();
      server.forceShutdown();
      // Connections still in their handshake belong to no gRPC session yet.
      for (const socket of sockets) socket.destroy();
    },
    reloadTls(tls) {
      credentials.updateSecureContextOptions(contextOf(tls));
    },
  };
}

/** Greetings that show who the interceptor let in. */
function echoImplementation(
  allowed: (method: string, auth: VerifiedToken, requestId: string | undefined) => void,
): UntypedServiceImplementation {
  const caller = (call: { metadata: ServerUnaryCall<unknown, unknown>['metadata'] }, method: string): VerifiedToken => {
    // The interceptor admitted the call, so the token is there; refuse loudly if it ever is not.
    const auth = verifiedTokenOf(call);
    if (auth === undefined)
      throw Object.assign(new Error('call reached the handler without a verified token'), {
        code: status.INTERNAL,
        details: 'call reached the handler without a verified token',
      });
    allowed(method, auth, requestIdOf(call));
    return auth;
  };
  // Streaming handlers end the call with the error's status instead of throwing (UNKNOWN).
  const callerOrFail = (
    call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
    method: string,
  ): VerifiedToken | undefined => {
    try {
      return caller(call, method);
    } catch (error) {
      call.emit('error', error);
      return undefined;
    }
  };
  const greet = (name: string, auth: VerifiedToken): string =>
    `Hello ${name === '' ? auth.subject : name} (token subject ${auth.subject}, bound to x5t#S256 ${auth.thumbprint})`;

  return {
    SayHello(call: ServerUnaryCall<EchoRequest, EchoReply>, callback: sendUnaryData<EchoReply>) {
      try {
        callback(null, { message: greet(call.request.name, caller(call, `/${ECHO_SERVICE}/SayHello`)) });
      } catch (error) {
        callback(error as Error);
      }
    },
    SayHelloStream(call: ServerWritableStream<EchoStreamRequest, EchoReply>) {
      const auth = callerOrFail(call, `/${ECHO_SERVICE}/SayHelloStream`);
      if (auth === undefined) return;
      const count = call.request.count === 0 ? DEFAULT_STREAM_COUNT : call.request.count;
      if (count > MAX_STREAM_COUNT) {
        call.emit('error', { code: status.INVALID_ARGUMENT, details: `count must be 1 to ${MAX_STREAM_COUNT}` });
        return;
      }
      for (let index = 1; index <= count; index++) call.write({ message: `${greet(call.request.name, auth)} ${index}/${count}` });
      call.end();
    },
    SayHelloToAll(call: ServerReadableStream<EchoRequest, EchoReply>, callback: sendUnaryData<EchoReply>) {
      let auth: VerifiedToken;
      try {
        auth = caller(call, `/${ECHO_SERVICE}/SayHelloToAll`);
      } catch (error) {
        callback(error as Error);
        return;
      }
      const names: string[] = [];
      call.on('data', (request: EchoRequest) => names.push(request.name));
      call.on('end', () => callback(null, { message: greet(names.join(', '), auth) }));
    },
    SayHelloChat(call: ServerDuplexStream<EchoRequest, EchoReply>) {
      const auth = callerOrFail(call, `/${ECHO_SERVICE}/SayHelloChat`);
      if (auth === undefined) return;
      call.on('data', (request: EchoRequest) => call.write({ message: greet(request.name, auth) }));
      call.on('end', () => call.end());
    },
  };
}
