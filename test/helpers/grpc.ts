import {
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  status,
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ClientWritableStream,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type StatusObject,
} from '@grpc/grpc-js';
import { loadEchoDefinitions } from '../../src/cli/servers/echo-server.js';
import { createServerInterceptor, verifiedTokenOf, type ServerInterceptorOptions } from '../../src/grpc/server-interceptor.js';
import { ERROR_CODE_TRAILER } from '../../src/grpc/status.js';
import type { IssuedCertificate } from '../../src/pki/generate.js';
import type { TestPki } from './pki.js';

type After = { after(fn: () => unknown): void };

/** Every call gets a deadline, so a test can fail but never hang. */
const CALL_DEADLINE_MS = 10_000;

interface EchoRequest {
  name: string;
}
interface EchoReply {
  message: string;
}

/** The echo client with its four methods typed (grpc-js gives them as `Function`). */
export interface EchoClient extends Client {
  SayHello(
    request: EchoRequest,
    metadata: Metadata,
    options: CallOptions,
    callback: (error: ServiceError | null, reply?: EchoReply) => void,
  ): ClientUnaryCall;
  SayHelloStream(request: EchoRequest & { count: number }, metadata: Metadata, options: CallOptions): ClientReadableStream<EchoReply>;
  SayHelloToAll(
    metadata: Metadata,
    options: CallOptions,
    callback: (error: ServiceError | null, reply?: EchoReply) => void,
  ): ClientWritableStream<EchoRequest>;
  SayHelloChat(metadata: Metadata, options: CallOptions): ClientDuplexStream<EchoRequest, EchoReply>;
}

/**
 * How a call ended: `code` 0 with the replies, or the status code, details and the
 * certbound-error-code trailer of a refusal.
 */
export interface Outcome {
  code: number;
  details: string;
  trailer: string | undefined;
  replies: string[];
}

export type CallType = 'unary' | 'server-streaming' | 'client-streaming' | 'bidi';
export const CALL_TYPES: readonly CallType[] = ['unary', 'server-streaming', 'client-streaming', 'bidi'];

/** TLS channel credentials trusting `ca` (default: the test CA), presenting `client` if given. */
export function channelCredentials(pki: TestPki, client?: IssuedCertificate, ca: string = pki.ca.certPem): ChannelCredentials {
  return client === undefined
    ? credentials.createSsl(Buffer.from(ca))
    : credentials.createSsl(Buffer.from(ca), Buffer.from(client.keyPem), Buffer.from(client.certPem));
}

/** An echo client for `target` (`localhost:PORT`), closed with the test. */
export function echoClient(t: After, target: string, channel: ChannelCredentials): EchoClient {
  const { EchoServer } = loadEchoDefinitions();
  const client = new EchoServer(target, channel) as unknown as EchoClient;
  t.after(() => client.close());
  return client;
}

/** Metadata carrying `authorization: Bearer <token>`, or none. */
export function bearer(token?: string): Metadata {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

function failed(error: { code: number; details: string; metadata?: Metadata }): Outcome {
  const trailer = error.metadata?.get(ERROR_CODE_TRAILER)[0];
  return { code: error.code, details: error.details, trailer: trailer === undefined ? undefined : String(trailer), replies: [] };
}

const ok = (replies: string[]): Outcome => ({ code: status.OK, details: 'OK', trailer: undefined, replies });
const options = (): CallOptions => ({ deadline: Date.now() + CALL_DEADLINE_MS });

export function callUnary(client: EchoClient, metadata = new Metadata(), name = 'unary'): Promise<Outcome> {
  return new Promise((resolve) => {
    client.SayHello({ name }, metadata, options(), (error, reply) => resolve(error === null ? ok([reply?.message ?? '']) : failed(error)));
  });
}

/** Resolve a response stream's outcome once its status arrives (and, when OK, after its last message). */
function collect(stream: ClientReadableStream<EchoReply> | ClientDuplexStream<EchoRequest, EchoReply>): Promise<Outcome> {
  return new Promise((resolve) => {
    const replies: string[] = [];
    let ended = false;
    let okStatus = false;
    stream.on('data', (reply: EchoReply) => replies.push(reply.message));
    stream.on('error', () => {}); // the same failure arrives as 'status'
    stream.on('end', () => {
      ended = true;
      if (okStatus) resolve(ok(replies));
    });
    stream.on('status', (result: StatusObject) => {
      if (result.code !== status.OK) {
        resolve({ ...failed(result), replies });
        return;
      }
      okStatus = true;
      if (ended) resolve(ok(replies));
    });
  });
}

export function callServerStream(client: EchoClient, metadata = new Metadata(), count = 2): Promise<Outcome> {
  return collect(client.SayHelloStream({ name: 'stream', count }, metadata, options()));
}

export function callClientStream(client: EchoClient, metadata = new Metadata(), names = ['x', 'y']): Promise<Outcome> {
  return new Promise((resolve) => {
    const call = client.SayHelloToAll(metadata, options(), (error, reply) =>
      resolve(error === null ? ok([reply?.message ?? '']) : failed(error)),
    );
    call.on('error', () => {}); // reported to the callback
    for (const name of names) call.write({ name });
    call.end();
  });
}

export function callBidi(client: EchoClient, metadata = new Metadata(), names = ['x', 'y']): Promise<Outcome> {
  const call = client.SayHelloChat(metadata, options());
  const outcome = collect(call);
  for (const name of names) call.write({ name });
  call.end();
  return outcome;
}

export function callOf(type: CallType): (client: EchoClient, metadata?: Metadata) => Promise<Outcome> {
  return { unary: callUnary, 'server-streaming': callServerStream, 'client-streaming': callClientStream, bidi: callBidi }[type];
}

/** What each call type replies with for `subject`, given the requests the helpers above send. */
export function expectedReplies(type: CallType, subject: string): string[] {
  return {
    unary: [subject],
    'server-streaming': [subject, subject],
    'client-streaming': [`${subject}: x,y`],
    bidi: [`${subject}: x`, `${subject}: y`],
  }[type];
}

/** Handler invocations and request messages the handlers received. */
export interface HandlerCounts {
  calls: number;
  messages: number;
}

export interface InterceptedServer {
  /** `localhost:PORT`: the server certificate has SAN localhost. */
  target: string;
  counts: HandlerCounts;
}

/**
 * A plain grpc-js Server with the certbound interceptor and counting echo handlers that answer
 * with the verified token's subject ('anonymous' on exempt methods). Bound to 127.0.0.1:0 and
 * shut down with the test.
 */
export async function startInterceptedServer(
  t: After,
  pki: TestPki,
  interceptor: ServerInterceptorOptions,
  { requireClientCertificate = true }: { requireClientCertificate?: boolean } = {},
): Promise<InterceptedServer> {
  const counts: HandlerCounts = { calls: 0, messages: 0 };
  const subjectOf = (call: { metadata: Metadata }): string => verifiedTokenOf(call)?.subject ?? 'anonymous';
  const server = new Server({ interceptors: [createServerInterceptor(interceptor)] });
  server.addService(loadEchoDefinitions().EchoServer.service, {
    SayHello(call: ServerUnaryCall<EchoRequest, EchoReply>, callback: sendUnaryData<EchoReply>) {
      counts.calls++;
      counts.messages++;
      callback(null, { message: subjectOf(call) });
    },
    SayHelloStream(call: ServerWritableStream<EchoRequest & { count: number }, EchoReply>) {
      counts.calls++;
      counts.messages++;
      for (let index = 0; index < call.request.count; index++) call.write({ message: subjectOf(call) });
      call.end();
    },
    SayHelloToAll(call: ServerReadableStream<EchoRequest, EchoReply>, callback: sendUnaryData<EchoReply>) {
      counts.calls++;
      const names: string[] = [];
      call.on('data', (request: EchoRequest) => {
        counts.messages++;
        names.push(request.name);
      });
      call.on('end', () => callback(null, { message: `${subjectOf(call)}: ${names.join(',')}` }));
    },
    SayHelloChat(call: ServerDuplexStream<EchoRequest, EchoReply>) {
      counts.calls++;
      call.on('data', (request: EchoRequest) => {
        counts.messages++;
        call.write({ message: `${subjectOf(call)}: ${request.name}` });
      });
      call.on('end', () => call.end());
    },
  });
  const serverCredentials = ServerCredentials.createSsl(
    Buffer.from(pki.ca.certPem),
    [{ private_key: Buffer.from(pki.server.keyPem), cert_chain: Buffer.from(pki.server.certPem) }],
    requireClientCertificate,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', serverCredentials, (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  t.after(() => server.forceShutdown());
  return { target: `localhost:${port}`, counts };
}
