import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadPackageDefinition,
  status,
  type ChannelCredentials,
  type Client,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { createBoundTokenVerifier, type BoundTokenVerifier } from '../../src/core/verify.js';
import { createEchoServer, loadEchoDefinitions, type EchoServerEvent } from '../../src/cli/servers/echo-server.js';
import { createStsCredentials, type StsCredentials, type StsCredentialsOptions } from '../../src/grpc/call-credentials.js';
import type { IssuedCertificate } from '../../src/pki/generate.js';
import {
  bearer,
  CALL_TYPES,
  callOf,
  callUnary,
  channelCredentials,
  echoClient,
  expectedReplies,
  startInterceptedServer,
  type InterceptedServer,
  type Outcome,
} from '../helpers/grpc.js';
import { steppedClock } from '../helpers/clock.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import {
  agentFor,
  ALICE_SECRET,
  AUDIENCE,
  exchangeRequest,
  ISSUER,
  postToken,
  startSts,
  UNPINNED_SECRET,
  type RunningSts,
} from '../helpers/servers.js';

type After = { after(fn: () => unknown): void };

const OTHER_AUDIENCE = 'https://other.domain.com';
const HOUR = 3600_000;

let pki: TestPki;
let sts: RunningSts;
let verifier: BoundTokenVerifier;
/** Alice's tokens from the STS: bound to her certificate, for AUDIENCE, expired, for another audience, with scopes. */
const tokens = { alice: '', expired: '', otherAudience: '', read: '', readWrite: '' };
const cleanups: Array<() => unknown> = [];
const suite: After = { after: (fn) => cleanups.push(fn) };

async function exchangeForAlice(stsUrl: string, extra: Record<string, string> = {}): Promise<string> {
  const response = await postToken(agentFor(suite, pki, pki.alice), stsUrl, exchangeRequest(extra));
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.access_token as string;
}

before(async () => {
  pki = await createTestPki();
  sts = await startSts(suite, pki);
  verifier = createBoundTokenVerifier({ keys: { keys: [sts.signingKey.publicJwk] }, issuer: ISSUER, audience: AUDIENCE });
  // Same signing key, a clock three hours behind: its one-hour tokens expired two hours ago.
  const pastSts = await startSts(suite, pki, { now: () => Date.now() - 3 * HOUR });
  [tokens.alice, tokens.expired, tokens.otherAudience, tokens.read, tokens.readWrite] = await Promise.all([
    exchangeForAlice(sts.url),
    exchangeForAlice(pastSts.url),
    exchangeForAlice(sts.url, { audience: OTHER_AUDIENCE }),
    exchangeForAlice(sts.url, { scope: 'read' }),
    exchangeForAlice(sts.url, { scope: 'read write' }),
  ]);
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const issuedCount = (from: RunningSts = sts): number => from.events.filter((event) => event.type === 'token.issued').length;

/** A refusal: code, the certbound trailer, details matching, no reply. */
function assertRefused(outcome: Outcome, code: number, trailer: string | undefined, details: RegExp): void {
  assert.equal(outcome.code, code, `expected ${status[code]}, got ${status[outcome.code] ?? outcome.code}: ${outcome.details}`);
  assert.equal(outcome.trailer, trailer);
  assert.match(outcome.details, details);
  assert.deepEqual(outcome.replies, []);
}

/** STS credentials for `client` (default alice) against `stsUrl` (default the suite's STS), closed with the test. */
function stsCredentials(t: After, overrides: Partial<StsCredentialsOptions> = {}, client: IssuedCertificate = pki.alice): StsCredentials {
  const options = {
    stsUrl: sts.url,
    tls: { ca: pki.ca.certPem, cert: client.certPem, key: client.keyPem },
    audience: AUDIENCE,
    ...overrides,
  };
  if (options.subjectToken === undefined && options.subjectTokenFile === undefined) options.subjectToken = ALICE_SECRET;
  const credentials = createStsCredentials(options);
  t.after(() => credentials.close());
  return credentials;
}

describe('gRPC server interceptor: RFC 8705 §3 binding on each call type', () => {
  let server: InterceptedServer;
  before(async () => {
    server = await startInterceptedServer(suite, pki, { verifier });
  });

  const refusals = [
    {
      name: "alice's token over bob's certificate",
      client: 'bob',
      token: 'alice',
      trailer: 'CB_CNF_MISMATCH',
      details: /^invalid_token: token is bound to a different client certificate$/,
    },
    { name: 'no token', client: 'alice', token: undefined, trailer: 'CB_TOKEN_MISSING', details: /^no access token$/ },
    {
      name: 'an expired token',
      client: 'alice',
      token: 'expired',
      trailer: 'CB_TOKEN_EXPIRED',
      details: /^invalid_token: token has expired$/,
    },
    {
      name: 'a token for another audience',
      client: 'alice',
      token: 'otherAudience',
      trailer: 'CB_TOKEN_AUDIENCE_INVALID',
      details: /^invalid_token: .*aud/,
    },
  ] as const;

  for (const type of CALL_TYPES) {
    const call = callOf(type);

    test(`${type}: alice's bound token over alice's certificate reaches the handler`, async (t) => {
      const before = { ...server.counts };
      const outcome = await call(echoClient(t, server.target, channelCredentials(pki, pki.alice)), bearer(tokens.alice));
      assert.deepEqual(outcome, { code: status.OK, details: 'OK', trailer: undefined, replies: expectedReplies(type, 'alice') });
      assert.equal(server.counts.calls - before.calls, 1);
      assert.ok(server.counts.messages > before.messages, 'the request messages were delivered');
    });

    for (const refusal of refusals) {
      test(`${type}: ${refusal.name} is UNAUTHENTICATED (${refusal.trailer}) and no handler runs`, async (t) => {
        const before = { ...server.counts };
        const client = echoClient(t, server.target, channelCredentials(pki, pki[refusal.client]));
        const outcome = await call(client, bearer(refusal.token === undefined ? undefined : tokens[refusal.token]));
        assertRefused(outcome, status.UNAUTHENTICATED, refusal.trailer, refusal.details);
        assert.deepEqual(server.counts, before, 'no handler started and no message was delivered');
      });
    }
  }

  test('createStsCredentials carries a token bound to the channel certificate on every call type', async (t) => {
    const client = echoClient(t, server.target, stsCredentials(t).channelCredentials);
    for (const type of CALL_TYPES) {
      assert.deepEqual((await callOf(type)(client)).replies, expectedReplies(type, 'alice'), type);
    }
  });
});

describe('gRPC echo server (createEchoServer)', () => {
  let target: string;
  const events: EchoServerEvent[] = [];
  before(async () => {
    const echo = createEchoServer({
      tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
      verifier,
      onEvent: (event) => events.push(event),
    });
    const url = await echo.listen(0, '127.0.0.1');
    suite.after(() => echo.forceClose());
    target = `localhost:${url.port}`;
  });

  interface HealthClient extends Client {
    Check(
      request: { service: string },
      options: { deadline: number },
      callback: (error: ServiceError | null, reply?: { status: string }) => void,
    ): void;
  }
  function healthCheck(
    t: After,
    channel: ChannelCredentials,
    service: string,
  ): Promise<{ status: string } | { code: number; details: string }> {
    const grpcObject = loadPackageDefinition(loadEchoDefinitions().definition);
    const Health = (((grpcObject.grpc as GrpcObject).health as GrpcObject).v1 as GrpcObject).Health as ServiceClientConstructor;
    const client = new Health(target, channel) as unknown as HealthClient;
    t.after(() => client.close());
    return new Promise((resolve) =>
      client.Check({ service }, { deadline: Date.now() + 10_000 }, (error, reply) =>
        resolve(error === null ? { status: reply?.status ?? '' } : { code: error.code, details: error.details }),
      ),
    );
  }

  test('grpc.health.v1.Health/Check needs no token; SayHello without one is refused', async (t) => {
    const channel = channelCredentials(pki, pki.alice);
    assert.deepEqual(await healthCheck(t, channel, ''), { status: 'SERVING' });
    assert.deepEqual(await healthCheck(t, channel, 'echo.EchoServer'), { status: 'SERVING' });
    const before = events.length;
    assertRefused(await callUnary(echoClient(t, target, channel)), status.UNAUTHENTICATED, 'CB_TOKEN_MISSING', /^no access token$/);
    assert.deepEqual(
      events.slice(before).map((event) => [event.type, event.method, 'code' in event ? event.code : undefined]),
      [['call.refused', '/echo.EchoServer/SayHello', 'CB_TOKEN_MISSING']],
    );
  });

  test("alice's bound token is greeted by name", async (t) => {
    const outcome = await callUnary(echoClient(t, target, channelCredentials(pki, pki.alice)), bearer(tokens.alice), 'Alice');
    assert.equal(outcome.code, status.OK, outcome.details);
    assert.match(
      outcome.replies[0] ?? '',
      new RegExp(`^Hello Alice \\(token subject alice, bound to x5t#S256 ${pki.alice.thumbprint}\\)$`),
    );
  });

  for (const [name, client] of [
    ['a certificate from another CA', 'stranger'],
    ['no certificate', undefined],
  ] as const) {
    test(`${name} is refused at the TLS handshake (UNAVAILABLE), even for the health check`, async (t) => {
      const before = events.length;
      const channel = channelCredentials(pki, client === undefined ? undefined : pki[client]);
      const started = Date.now();
      const outcome = await callUnary(echoClient(t, target, channel), bearer(tokens.alice));
      assert.equal(outcome.code, status.UNAVAILABLE, outcome.details);
      assert.match(outcome.details, /No connection established/);
      assert.equal(outcome.trailer, undefined, 'refused by TLS, not by the interceptor');
      const health = await healthCheck(t, channel, '');
      assert.equal('code' in health ? health.code : health.status, status.UNAVAILABLE, JSON.stringify(health));
      assert.ok(Date.now() - started < 5000);
      assert.deepEqual(events.slice(before), [], 'no call got as far as the interceptor');
    });
  }
});

describe('gRPC server interceptor options', () => {
  test('a method exempted by full path runs without a token; the others still need one', async (t) => {
    const server = await startInterceptedServer(t, pki, { verifier, exempt: ['/echo.EchoServer/SayHello'] });
    const client = echoClient(t, server.target, channelCredentials(pki, pki.alice));
    assert.deepEqual((await callUnary(client)).replies, ['anonymous']);
    assert.equal(server.counts.calls, 1);
    assertRefused(await callOf('server-streaming')(client), status.UNAUTHENTICATED, 'CB_TOKEN_MISSING', /^no access token$/);
    assert.equal(server.counts.calls, 1);
  });

  test('requiredScopes: PERMISSION_DENIED (CB_SCOPE_INSUFFICIENT) without the scope, allowed with it', async (t) => {
    const server = await startInterceptedServer(t, pki, {
      verifier,
      requiredScopes: { '/echo.EchoServer/SayHello': ['write'], 'echo.EchoServer': ['read'] },
    });
    const client = echoClient(t, server.target, channelCredentials(pki, pki.alice));
    assertRefused(
      await callUnary(client, bearer(tokens.read)),
      status.PERMISSION_DENIED,
      'CB_SCOPE_INSUFFICIENT',
      /^insufficient_scope: token lacks the required scope write$/,
    );
    assertRefused(await callUnary(client, bearer(tokens.alice)), status.PERMISSION_DENIED, 'CB_SCOPE_INSUFFICIENT', /write/);
    assert.equal(server.counts.calls, 0);
    assert.deepEqual((await callUnary(client, bearer(tokens.readWrite))).replies, ['alice']);
    // The service entry applies to the other methods: read is enough there.
    assert.deepEqual((await callOf('bidi')(client, bearer(tokens.read))).replies, expectedReplies('bidi', 'alice'));
    assertRefused(await callOf('bidi')(client, bearer(tokens.alice)), status.PERMISSION_DENIED, 'CB_SCOPE_INSUFFICIENT', /read/);
    assert.equal(server.counts.calls, 2);
  });

  test('on a server that does not require client certificates, the interceptor refuses the missing certificate', async (t) => {
    const server = await startInterceptedServer(t, pki, { verifier }, { requireClientCertificate: false });
    const withoutCertificate = await callUnary(echoClient(t, server.target, channelCredentials(pki)), bearer(tokens.alice));
    assertRefused(withoutCertificate, status.UNAUTHENTICATED, 'CB_CLIENT_CERT_MISSING', /^invalid_token: a client certificate is required/);
    // Such a server does not even ask for one, so alice's certificate is never seen either.
    const unrequested = await callUnary(echoClient(t, server.target, channelCredentials(pki, pki.alice)), bearer(tokens.alice));
    assertRefused(unrequested, status.UNAUTHENTICATED, 'CB_CLIENT_CERT_MISSING', /client certificate/);
    assert.equal(server.counts.calls, 0);
  });
});

describe('gRPC STS call credentials', () => {
  let server: InterceptedServer;
  before(async () => {
    server = await startInterceptedServer(suite, pki, { verifier });
  });

  test('refreshes the token across expiry with one shared clock, and no RPC fails', async (t) => {
    let clock = Date.now();
    const now = () => clock;
    const lifetime = 600; // refresh window min(60 s, lifetime / 2): refresh 540 s after issue
    const clockedSts = await startSts(t, pki, { now, accessTokenLifetimeSeconds: lifetime });
    const clockedVerifier = createBoundTokenVerifier({
      keys: { keys: [clockedSts.signingKey.publicJwk] },
      issuer: ISSUER,
      audience: AUDIENCE,
      now,
    });
    const clocked = await startInterceptedServer(t, pki, { verifier: clockedVerifier });
    const client = echoClient(t, clocked.target, stsCredentials(t, { stsUrl: clockedSts.url, now }).channelCredentials);
    const rpcsSucceed = async (count: number) => {
      for (let index = 0; index < count; index++) {
        const outcome = await callUnary(client);
        assert.deepEqual([outcome.code, outcome.details, outcome.replies], [status.OK, 'OK', ['alice']]);
      }
    };

    await rpcsSucceed(3);
    assert.equal(issuedCount(clockedSts), 1);
    clock += 530_000; // before the refresh point: the cached token is used
    await rpcsSucceed(2);
    assert.equal(issuedCount(clockedSts), 1);
    clock += 20_000; // 550 s: inside the refresh window, token not yet expired
    await rpcsSucceed(2);
    assert.equal(issuedCount(clockedSts), 2);
    for (let round = 3; round <= 5; round++) {
      clock += (lifetime + 1) * 1000; // past the current token's expiry: the verifier would refuse it
      await rpcsSucceed(2);
      assert.equal(issuedCount(clockedSts), round);
    }
    assert.equal(clocked.counts.calls, 13);
  });

  test('50 concurrent RPCs on fresh credentials share one STS exchange', async (t) => {
    const client = echoClient(t, server.target, stsCredentials(t).channelCredentials);
    const issuedBefore = issuedCount();
    const callsBefore = server.counts.calls;
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => callUnary(client)));
    assert.deepEqual(new Set(outcomes.map((outcome) => `${outcome.code} ${outcome.replies.join()}`)), new Set([`${status.OK} alice`]));
    assert.equal(issuedCount() - issuedBefore, 1);
    assert.equal(server.counts.calls - callsBefore, 50);
  });

  test('an STS on a closed port fails the RPC with UNAVAILABLE naming the STS, promptly', async (t) => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const before = { ...server.counts };
    const started = Date.now();
    // The refused connection is retried (twice by default) with the backoff on an injected clock.
    const clock = steppedClock();
    const outcome = await callUnary(
      echoClient(
        t,
        server.target,
        stsCredentials(t, { stsUrl: `https://127.0.0.1:${port}`, timeoutMs: 2000, now: clock.now, sleep: clock.sleep }).channelCredentials,
      ),
    );
    assertRefused(
      outcome,
      status.UNAVAILABLE,
      undefined,
      new RegExp(`STS https://127\\.0\\.0\\.1:${port} refused the connection: nothing listens there .*ECONNREFUSED`),
    );
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.equal(clock.slept.length, 2, `waits ${clock.slept.join(', ')}`);
    assert.deepEqual(server.counts, before);
  });

  test('an STS that accepts and never answers fails the RPC with UNAVAILABLE after timeoutMs', async (t) => {
    const sockets = new Set<Socket>();
    const silent = createTcpServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const port = (silent.address() as AddressInfo).port;
    const before = { ...server.counts };
    const started = Date.now();
    const outcome = await callUnary(
      echoClient(t, server.target, stsCredentials(t, { stsUrl: `https://127.0.0.1:${port}`, timeoutMs: 300 }).channelCredentials),
    );
    const elapsed = Date.now() - started;
    assertRefused(outcome, status.UNAVAILABLE, undefined, new RegExp(`STS https://127\\.0\\.0\\.1:${port} is unreachable.*timeout`, 'i'));
    assert.ok(elapsed >= 250 && elapsed < 3000, `took ${elapsed} ms`);
    assert.equal(sockets.size, 1, 'the STS connection was made and left unanswered');
    assert.deepEqual(server.counts, before);
  });

  const stsRefusals = [
    {
      name: "bob's certificate presenting alice's subject token",
      client: 'bob',
      subjectToken: ALICE_SECRET,
      details: /STS refused the exchange \(invalid_request: subject_token was not issued to this client certificate\)$/,
    },
    {
      name: 'an unknown subject token',
      client: 'alice',
      subjectToken: 'not-a-known-subject-token',
      details: /STS refused the exchange \(invalid_request: subject_token is not valid\)$/,
    },
  ] as const;
  for (const refusal of stsRefusals) {
    test(`the STS refusing ${refusal.name} fails the RPC with UNAUTHENTICATED and its OAuth error`, async (t) => {
      const before = { ...server.counts };
      const credentials = stsCredentials(t, { subjectToken: refusal.subjectToken }, pki[refusal.client]);
      const outcome = await callUnary(echoClient(t, server.target, credentials.channelCredentials));
      assertRefused(outcome, status.UNAUTHENTICATED, undefined, refusal.details);
      assert.deepEqual(server.counts, before);
    });
  }

  test('subjectTokenFile is read afresh at each exchange', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'certbound-grpc-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'subject-token');
    await writeFile(file, `${ALICE_SECRET}\n`);
    const credentials = stsCredentials(t, { subjectTokenFile: file });
    const client = echoClient(t, server.target, credentials.channelCredentials);
    assert.deepEqual((await callUnary(client)).replies, ['alice']);
    await writeFile(file, UNPINNED_SECRET);
    assert.deepEqual((await callUnary(client)).replies, ['alice'], 'the cached token is still used');
    credentials.tokens.invalidate();
    assert.deepEqual((await callUnary(client)).replies, ['carol']);
  });

  test('a missing subject token file fails the RPC with UNAUTHENTICATED naming the file', async (t) => {
    const file = join(tmpdir(), `certbound-missing-${process.pid}-${Date.now()}`, 'subject-token');
    const before = { ...server.counts };
    const issuedBefore = issuedCount();
    const outcome = await callUnary(echoClient(t, server.target, stsCredentials(t, { subjectTokenFile: file }).channelCredentials));
    assertRefused(
      outcome,
      status.UNAUTHENTICATED,
      undefined,
      new RegExp(`cannot read the subject token file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*ENOENT`),
    );
    assert.deepEqual(server.counts, before);
    assert.equal(issuedCount(), issuedBefore, 'the STS was never asked');
  });

  test('a subjectToken callback is asked at each exchange', async (t) => {
    const answers = [ALICE_SECRET, UNPINNED_SECRET];
    let asked = 0;
    const credentials = stsCredentials(t, { subjectToken: async () => answers[asked++] ?? '' });
    const client = echoClient(t, server.target, credentials.channelCredentials);
    assert.deepEqual((await callUnary(client)).replies, ['alice']);
    assert.deepEqual((await callUnary(client)).replies, ['alice']);
    assert.equal(asked, 1);
    credentials.tokens.invalidate();
    assert.deepEqual((await callUnary(client)).replies, ['carol']);
    assert.equal(asked, 2);
  });
});
