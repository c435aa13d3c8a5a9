import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { Agent, request } from 'undici';
import { createMtlsAgent } from '../../client/mtls-agent.js';
import { createTokenSource } from '../../client/token-source.js';
import { CertboundError } from '../../core/errors.js';
import { computeThumbprint } from '../../core/thumbprint.js';
import type { TlsKey } from '../../core/tls-key.js';
import { DEV_AUDIENCE, DEV_GRPC_AUDIENCE, DEV_ISSUER, DEV_SUBJECT_TOKENS } from '../../pki/dev-pki.js';
import type { FlagSpec } from '../../config/option.js';
import { optionalString, parse } from '../args.js';
import { stopChild } from '../child-server.js';
import { demoPkcs11Module, setUpDemo } from './demo-setup.js';
import { DEFAULTS } from '../../defaults.js';
import { loadGrpc } from './grpc.js';

export const usage = `certbound demo [--keep] [--pkcs11 [--pkcs11-module F]]
  Build a fresh dev PKI in a temporary directory, start the STS, an HTTPS resource server and a
  gRPC server on loopback, and walk through the certificate-bound token story step by step. Exits 0 only when every step
  behaves as expected. --keep leaves the temporary directory in place. --pkcs11 makes alice's,
  bob's and the STS signing key inside a throw-away SoftHSM2 token (--pkcs11-module: the SoftHSM2
  module, default where Debian installs it) and plays the same story with keys that never leave it.`;

export const flags: readonly FlagSpec[] = [
  { flag: 'keep', type: { kind: 'boolean' }, doc: 'leave the temporary directory in place' },
  { flag: 'pkcs11', type: { kind: 'boolean' }, doc: 'keep the keys in a throw-away SoftHSM2 token' },
  { flag: 'pkcs11-module', type: { kind: 'path' }, doc: 'the SoftHSM2 module (default: where Debian installs it)' },
];

interface Step {
  title: string;
  expected: string;
  run(): Promise<{ ok: boolean; observed: string; details?: string[] }>;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('demo', argv, flags);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const out = (line = ''): boolean => process.stdout.write(`${line}\n`);
  const dir = await mkdtemp(join(tmpdir(), 'certbound-demo-'));
  const children: ChildProcess[] = [];
  const agents: Agent[] = [];
  const cleanups: (() => unknown)[] = [];
  try {
    const { grpc, echo, credentials, channels } = await loadGrpc();
    out('certbound demo: certificate-bound access tokens (RFC 8705) from a token-exchange STS (RFC 8693)');
    out();
    const pkcs11Module = parsed.values.pkcs11 === true ? demoPkcs11Module(optionalString(parsed, 'pkcs11-module')) : undefined;
    const world = await setUpDemo(dir, children, pkcs11Module);
    const { sts, resource, grpcServer, ca, alice, bob } = world;
    out(`0. Dev PKI written to ${dir}`);
    out(`   CA SHA-256 fingerprint ${world.pki.caFingerprint}`);
    out(`   STS listening on ${sts} (issuer ${DEV_ISSUER})`);
    out(`   resource server listening on ${resource} (audience ${DEV_AUDIENCE}, keys from the STS JWKS)`);
    out(`   gRPC server listening on ${grpcServer} (audience ${DEV_GRPC_AUDIENCE}, keys from the STS JWKS)`);
    out('   where the private keys live:');
    for (const place of world.keyPlaces) out(`     ${place}`);
    out();

    const [aliceCert, aliceKey, bobCert, bobKey] = [alice.cert, alice.key, bob.cert, bob.key];
    const aliceAgent = createMtlsAgent({ ca, cert: aliceCert, key: aliceKey });
    const bobAgent = createMtlsAgent({ ca, cert: bobCert, key: bobKey });
    const anonymousAgent = new Agent({ connect: { ca } });
    agents.push(aliceAgent, bobAgent, anonymousAgent);
    const exchangeAs = (agent: Agent, subjectToken: string) =>
      createTokenSource({ stsUrl: sts, agent, subjectToken, audience: DEV_AUDIENCE, scope: 'read' }).getTokenResponse();
    const callResource = async (agent: Agent, token: string) => {
      const response = await request(`${resource}/`, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
      const body = await response.body.text();
      return { status: response.statusCode, challenge: String(response.headers['www-authenticate'] ?? ''), body };
    };
    let aliceToken = '';

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
      new Promise<{ ok: true; reply: Record<string, unknown> } | { ok: false; code: number; status: string; details: string }>(
        (resolve) => {
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
        },
      );
    const describe = (result: Awaited<ReturnType<typeof grpcCall>>): string =>
      result.ok ? JSON.stringify(result.reply) : `${result.status}: ${result.details}`;
    let aliceGrpcToken = '';

    const steps: Step[] = [
      {
        title: 'alice exchanges her subject token at the STS over mTLS',
        expected: 'a JWT access token whose cnf x5t#S256 is the thumbprint of alice.crt',
        async run() {
          const token = await exchangeAs(aliceAgent, DEV_SUBJECT_TOKENS.alice);
          aliceToken = token.accessToken;
          const claims = decodeJwt(aliceToken);
          const bound = (claims.cnf as Record<string, string> | undefined)?.['x5t#S256'];
          const thumbprint = computeThumbprint(aliceCert);
          return {
            ok: bound === thumbprint && claims.sub === 'alice',
            observed: `token for sub=${String(claims.sub)}, expires_in=${token.expiresIn}s, scope=${token.scope ?? ''}`,
            details: [`cnf: ${JSON.stringify(claims.cnf)}`, `x5t#S256 of alice.crt: ${thumbprint}`],
          };
        },
      },
      {
        title: 'alice calls the resource server with her token and her certificate',
        expected: '200 and a greeting for alice',
        async run() {
          const result = await callResource(aliceAgent, aliceToken);
          return { ok: result.status === 200 && JSON.parse(result.body).subject === 'alice', observed: `${result.status} ${result.body}` };
        },
      },
      {
        title: "bob replays alice's stolen token with his own certificate",
        expected: '401 invalid_token: the token is bound to a different certificate',
        async run() {
          const result = await callResource(bobAgent, aliceToken);
          return {
            ok: result.status === 401 && result.challenge.includes('error="invalid_token"'),
            observed: `${result.status} WWW-Authenticate: ${result.challenge}`,
          };
        },
      },
      {
        title: "alice's token is sent without any client certificate",
        expected: '401 invalid_token: a client certificate is required',
        async run() {
          const result = await callResource(anonymousAgent, aliceToken);
          return {
            ok: result.status === 401 && result.challenge.includes('error="invalid_token"'),
            observed: `${result.status} WWW-Authenticate: ${result.challenge}`,
          };
        },
      },
      {
        title: "bob presents alice's subject token at the STS",
        expected: 'refused with invalid_request (RFC 8693 §2.2.2): that subject token is pinned to alice',
        async run() {
          try {
            await exchangeAs(bobAgent, DEV_SUBJECT_TOKENS.alice);
            return { ok: false, observed: 'the STS issued a token' };
          } catch (error) {
            const remote = error instanceof CertboundError ? error.remoteError : undefined;
            return {
              ok: remote === 'invalid_request' && /not issued to this client certificate/.test(String((error as Error).message)),
              observed: error instanceof Error ? error.message : String(error),
            };
          }
        },
      },
      {
        title: "a tampered token (alice's token with sub changed to admin) is presented with alice's certificate",
        expected: '401 invalid_token: the signature no longer verifies',
        async run() {
          const [header, payload, signature] = aliceToken.split('.') as [string, string, string];
          const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
          const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${signature}`;
          const result = await callResource(aliceAgent, forged);
          return {
            ok: result.status === 401 && result.challenge.includes('error="invalid_token"'),
            observed: `${result.status} WWW-Authenticate: ${result.challenge}`,
          };
        },
      },
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
    ];

    const protection = world.aliceProtection;
    if (protection !== undefined) {
      steps.unshift({
        title: "someone with the token's PIN asks it for alice's private key",
        expected: 'refused: the key is marked not extractable and its value sensitive, so it can sign but never leave',
        async run() {
          const seen = await protection();
          return {
            ok: !seen.extractable && seen.sensitive && seen.exportRefused,
            observed: `CKA_EXTRACTABLE=${seen.extractable}, CKA_SENSITIVE=${seen.sensitive}, reading the value: ${seen.exportRefused ? 'CKR_ATTRIBUTE_SENSITIVE' : 'allowed'}`,
          };
        },
      });
    }

    let failures = 0;
    for (const [index, step] of steps.entries()) {
      out(`${index + 1}. ${step.title}`);
      out(`   expected: ${step.expected}`);
      let result;
      try {
        result = await step.run();
      } catch (error) {
        result = { ok: false, observed: `error: ${error instanceof Error ? error.message : String(error)}` };
      }
      out(`   observed: ${result.observed}`);
      for (const detail of result.details ?? []) out(`             ${detail}`);
      out(`   ${result.ok ? 'PASS' : 'FAIL'}`);
      out();
      if (!result.ok) failures++;
    }
    out(
      failures === 0
        ? `All ${steps.length} steps behaved as expected: a stolen token is useless without its certificate.`
        : `${failures} of ${steps.length} steps did NOT behave as expected.`,
    );
    return failures === 0 ? 0 : 1;
  } finally {
    await Promise.all(cleanups.map((cleanup) => cleanup()));
    await Promise.all(agents.map((agent) => agent.close()));
    await Promise.all(children.map(stopChild));
    if (parsed.values.keep === true) out(`(kept ${dir})`);
    else await rm(dir, { recursive: true, force: true });
  }
}
