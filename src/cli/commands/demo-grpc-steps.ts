import type { TlsKey } from '../../core/tls-key.js';
import { DEV_GRPC_AUDIENCE, DEV_SUBJECT_TOKENS } from '../../pki/dev-pki.js';
import { DEFAULTS } from '../../defaults.js';
import type { loadGrpc } from './grpc.js';
import type { DemoSetup } from './demo-setup.js';
import type { DemoSteps } from './demo-step.js';

/** The demo's gRPC story: call credentials over the channel's certificate, a replay, no token, health. */
export function grpcSteps(world: DemoSetup & { grpcServer: string }, loaded: Awaited<ReturnType<typeof loadGrpc>>): DemoSteps {
  const { grpc, echo, credentials, channels } = loaded;
  const { sts, grpcServer, ca, alice, bob } = world;
  const [aliceCert, aliceKey, bobCert, bobKey] = [alice.cert, alice.key, bob.cert, bob.key];
  const cleanups: (() => unknown)[] = [];
  // gRPC: channels to the echo server, by 127.0.0.1 but checking the name on grpc.crt.
  const grpcTarget = new URL(grpcServer).host;
  const grpcChannelOptions = { 'grpc.ssl_target_name_override': 'grpc.domain.com', 'grpc.default_authority': 'grpc.domain.com' };
  const { EchoServer, Health } = echo.loadEchoDefinitions();
  const mtls = (cert: string, key: TlsKey) => channels.mtlsChannelCredentials({ ca, cert, key });
  const aliceSts = credentials.createStsCredentials({
    stsUrl: sts,
    tls: { ca, cert: aliceCert, key: aliceKey },
    subjectToken: DEV_SUBJECT_TOKENS.alice,
    audience: DEV_GRPC_AUDIENCE,
    scope: 'read',
  });
  const grpcClients = {
    alice: new EchoServer(grpcTarget, aliceSts.channelCredentials, grpcChannelOptions),
    bob: new EchoServer(grpcTarget, mtls(bobCert, bobKey), grpcChannelOptions),
    aliceWithoutToken: new EchoServer(grpcTarget, mtls(aliceCert, aliceKey), grpcChannelOptions),
    health: new Health(grpcTarget, mtls(bobCert, bobKey), grpcChannelOptions),
  };
  cleanups.push(() => aliceSts.close(), ...Object.values(grpcClients).map((client) => () => client.close()));
  const grpcCall = (client: InstanceType<typeof EchoServer>, method: string, request: object, metadata = new grpc.Metadata()) =>
    new Promise<{ ok: true; reply: Record<string, unknown> } | { ok: false; code: number; status: string; details: string }>((resolve) => {
      (client[method] as (...args: unknown[]) => void).call(
        client,
        request,
        metadata,
        { deadline: Date.now() + DEFAULTS.grpc.callDeadlineMs },
        (error: (Error & { code: number; details: string }) | null, reply: Record<string, unknown>) => {
          if (error === null) resolve({ ok: true, reply });
          else resolve({ ok: false, code: error.code, status: grpc.status[error.code] ?? String(error.code), details: error.details });
        },
      );
    });
  const describe = (result: Awaited<ReturnType<typeof grpcCall>>): string =>
    result.ok ? JSON.stringify(result.reply) : `${result.status}: ${result.details}`;
  let aliceGrpcToken = '';

  return {
    close: async () => {
      await Promise.all(cleanups.map((cleanup) => cleanup()));
    },
    steps: [
      {
        title: 'alice calls the gRPC echo server; her call credentials exchange the subject token over mTLS with the channel certificate',
        expected: 'SayHello answers for alice: the STS bound the token to the certificate the gRPC server sees',
        async run() {
          const result = await grpcCall(grpcClients.alice, 'SayHello', { name: 'alice' });
          aliceGrpcToken = await aliceSts.tokens.getToken();
          return { ok: result.ok && /token subject alice/.test(String(result.reply.message)), observed: describe(result) };
        },
      },
      {
        title: "bob replays alice's gRPC token over a channel with his own certificate",
        expected: 'UNAUTHENTICATED: the token is bound to a different client certificate',
        async run() {
          const metadata = new grpc.Metadata();
          metadata.set('authorization', `Bearer ${aliceGrpcToken}`);
          const result = await grpcCall(grpcClients.bob, 'SayHello', { name: 'bob' }, metadata);
          return {
            ok: !result.ok && result.code === grpc.status.UNAUTHENTICATED && /different client certificate/.test(result.details),
            observed: describe(result),
          };
        },
      },
      {
        title: "a gRPC call with no token (alice's certificate, no call credentials)",
        expected: 'UNAUTHENTICATED: no access token',
        async run() {
          const result = await grpcCall(grpcClients.aliceWithoutToken, 'SayHello', { name: 'alice' });
          return { ok: !result.ok && result.code === grpc.status.UNAUTHENTICATED, observed: describe(result) };
        },
      },
      {
        title: 'the gRPC health check, with no token',
        expected: 'SERVING: grpc.health.v1.Health is exempt from the token check',
        async run() {
          const result = await grpcCall(grpcClients.health, 'Check', { service: '' });
          return { ok: result.ok && result.reply.status === 'SERVING', observed: describe(result) };
        },
      },
    ],
  };
}
