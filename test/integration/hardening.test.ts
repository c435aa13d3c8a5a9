// Limits, revocation and reload on real servers: rate limits (429), load shedding (503), header
// and request timeouts against slow-loris clients, CRLs on the STS, the resource server and gRPC,
// and TLS material swapped under a running server without failing a request.
import assert from 'node:assert/strict';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { request } from 'undici';
import { createMtlsAgent } from '../../src/client/mtls-agent.js';
import { createTokenSource } from '../../src/client/token-source.js';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import { createEchoServer } from '../../src/cli/servers/echo-server.js';
import { createResourceServer } from '../../src/cli/servers/resource-server.js';
import { createCrl, issueCertificate, type IssuedCertificate } from '../../src/pki/generate.js';
import { bearer, callUnary, channelCredentials, echoClient } from '../helpers/grpc.js';
import { steppedClock } from '../helpers/clock.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import {
  agentFor,
  ALICE_SECRET,
  AUDIENCE,
  BOB_SECRET,
  exchangeRequest,
  ISSUER,
  postToken,
  startSts,
  type RunningSts,
} from '../helpers/servers.js';
import { whenever } from '../helpers/wait.js';

let pki: TestPki;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  pki = await createTestPki();
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const serverTls = (): { ca: string; cert: string; key: string } => ({
  ca: pki.ca.certPem,
  cert: pki.server.certPem,
  key: pki.server.keyPem,
});

/** A raw TLS connection to `url` presenting `client`, for requests written byte by byte. */
function rawConnection(url: string, client: IssuedCertificate): Promise<TLSSocket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: hostname, port: Number(port), ca: pki.ca.certPem, cert: client.certPem, key: client.keyPem, servername: 'localhost' },
      () => resolve(socket),
    );
    socket.once('error', reject);
  });
}

/** Resolve with everything the server sent once it closes the connection, and how long that took. */
function untilClosed(socket: TLSSocket): Promise<{ text: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ text, ms: Date.now() - started }));
  });
}

/** Resolve with the status line of the first response on `socket`. */
function statusLine(socket: TLSSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n')) resolve(text.slice(0, text.indexOf('\r\n')));
    });
    socket.once('close', () => reject(new Error(`closed before a response: ${JSON.stringify(text)}`)));
  });
}

async function tokenFor(sts: RunningSts, client: IssuedCertificate, secret: string): Promise<string> {
  const response = await postToken(agentFor(suite, pki, client), sts.url, exchangeRequest({ subject_token: secret }));
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.access_token as string;
}

describe('STS rate limit per client certificate', () => {
  test('past the burst: 429 temporarily_unavailable with Retry-After; another certificate is unaffected; the bucket refills', async (t) => {
    let clock = Date.now();
    const sts = await startSts(t, pki, { rateLimit: { perSecond: 1, burst: 3 }, now: () => clock });
    const alice = agentFor(t, pki, pki.alice);
    for (let i = 0; i < 3; i++) assert.equal((await postToken(alice, sts.url, exchangeRequest())).status, 200);
    const limited = await postToken(alice, sts.url, exchangeRequest());
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error, 'temporarily_unavailable');
    assert.equal(limited.body.error_description, 'too many requests from this client certificate');
    assert.equal(limited.headers['retry-after'], '1');
    assert.ok(
      sts.events.some(
        (event) => event.type === 'token.refused' && event.code === 'CB_RATE_LIMITED' && event.thumbprint === pki.alice.thumbprint,
      ),
    );
    // bob has his own bucket
    assert.equal((await postToken(agentFor(t, pki, pki.bob), sts.url, exchangeRequest({ subject_token: BOB_SECRET }))).status, 200);
    // an unregistered certificate is limited before it is even looked up
    const carol = agentFor(t, pki, pki.carol);
    const carolStatuses = [];
    for (let i = 0; i < 4; i++) carolStatuses.push((await postToken(carol, sts.url, exchangeRequest())).status);
    assert.deepEqual(carolStatuses, [401, 401, 401, 429]);
    clock += 1000;
    assert.equal((await postToken(alice, sts.url, exchangeRequest())).status, 200);
    assert.equal((await postToken(alice, sts.url, exchangeRequest())).status, 429);
  });

  test('rateLimit: false turns it off', async (t) => {
    const sts = await startSts(t, pki, { rateLimit: false });
    const alice = agentFor(t, pki, pki.alice);
    const statuses = await Promise.all(
      Array.from({ length: 120 }, () => postToken(alice, sts.url, exchangeRequest()).then((r) => r.status)),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
  });

  test('the token source retries a 429 after Retry-After and gets its token', async (t) => {
    // One clock for the STS's rate limit and the token source. The source's injected sleep moves
    // it on: the wait is the one Retry-After asks for, and no real time passes.
    const clock = steppedClock();
    const sts = await startSts(t, pki, { rateLimit: { perSecond: 2, burst: 1 }, now: clock.now });
    const alice = agentFor(t, pki, pki.alice);
    assert.equal((await postToken(alice, sts.url, exchangeRequest())).status, 200);
    const source = createTokenSource({
      stsUrl: sts.url,
      agent: alice,
      subjectToken: ALICE_SECRET,
      audience: AUDIENCE,
      now: clock.now,
      sleep: clock.sleep,
    });
    const token = await source.getToken();
    assert.ok(token.split('.').length === 3);
    assert.deepEqual(clock.slept, [1000], 'waited for Retry-After (1 s), once');
    assert.equal(sts.events.filter((event) => event.type === 'token.refused' && event.code === 'CB_RATE_LIMITED').length, 1);
  });
});

describe('load shedding', () => {
  test('beyond maxInFlight the STS answers 503 at once, /healthz still answers, and service resumes', async (t) => {
    const sts = await startSts(t, pki, { limits: { maxInFlight: 2 } });
    // Two requests that hold their slot: headers sent, body promised but not yet written. Once the
    // server has emitted 'request' for both, both slots are taken.
    const held = await Promise.all([rawConnection(sts.url, pki.alice), rawConnection(sts.url, pki.alice)]);
    const body = new URLSearchParams(exchangeRequest() as Record<string, string>).toString();
    let arrived = 0;
    const countRequest = (): number => arrived++;
    sts.server.on('request', countRequest);
    const bothHeld = whenever(sts.server, 'request', () => arrived === 2, 'both held requests reach the server');
    for (const socket of held) {
      socket.write(
        `POST /token HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${body.length}\r\n\r\n`,
      );
    }
    await bothHeld;
    sts.server.off('request', countRequest);
    const alice = agentFor(t, pki, pki.alice);
    const shed = await postToken(alice, sts.url, exchangeRequest());
    assert.equal(shed.status, 503);
    assert.equal(shed.body.error, 'temporarily_unavailable');
    assert.equal(shed.headers['retry-after'], '1');
    const health = await request(`${sts.url}/healthz`, { dispatcher: alice });
    assert.equal(health.statusCode, 200);
    await health.body.text();
    // The held requests complete normally once their bodies arrive.
    const answers = held.map((socket) => statusLine(socket));
    for (const socket of held) socket.write(body);
    for (const answer of await Promise.all(answers)) assert.match(answer, /^HTTP\/1\.1 200 /);
    for (const socket of held) socket.destroy();
    assert.equal((await postToken(alice, sts.url, exchangeRequest())).status, 200);
  });
});

describe('slow clients and oversized headers', () => {
  test('headers that never finish are cut off by headersTimeout; a body that never finishes by requestTimeout', async (t) => {
    const sts = await startSts(t, pki, { limits: { headersTimeoutMs: 1000, requestTimeoutMs: 2000 } });
    const slowHeaders = await rawConnection(sts.url, pki.alice);
    const headersClosed = untilClosed(slowHeaders);
    slowHeaders.write('POST /token HTTP/1.1\r\nhost: localhost\r\n');
    const drip = setInterval(() => slowHeaders.writable && slowHeaders.write('x-drip: 1\r\n'), 200);
    t.after(() => clearInterval(drip));
    const slowBody = await rawConnection(sts.url, pki.alice);
    const bodyClosed = untilClosed(slowBody);
    slowBody.write(
      'POST /token HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 1000\r\n\r\ngrant_type=',
    );
    const bodyDrip = setInterval(() => slowBody.writable && slowBody.write('a'), 200);
    t.after(() => clearInterval(bodyDrip));
    const [headers, bodyResult] = await Promise.all([headersClosed, bodyClosed]);
    clearInterval(drip);
    clearInterval(bodyDrip);
    assert.match(headers.text, /^HTTP\/1\.1 408 /);
    assert.ok(headers.ms >= 900 && headers.ms < 5000, `closed after ${headers.ms} ms`);
    assert.match(bodyResult.text, /^HTTP\/1\.1 408 /);
    assert.ok(bodyResult.ms >= 1900 && bodyResult.ms < 6000, `closed after ${bodyResult.ms} ms`);
    assert.equal((await postToken(agentFor(t, pki, pki.alice), sts.url, exchangeRequest())).status, 200);
  });

  test('a request head over maxHeaderSize gets 431 and the server keeps serving', async (t) => {
    const sts = await startSts(t, pki, { limits: { maxHeaderSize: 4096 } });
    const alice = agentFor(t, pki, pki.alice);
    const response = await request(`${sts.url}/healthz`, { dispatcher: alice, headers: { 'x-padding': 'a'.repeat(8192) } });
    assert.equal(response.statusCode, 431);
    await response.body.text();
    assert.equal((await postToken(agentFor(t, pki, pki.alice), sts.url, exchangeRequest())).status, 200);
  });

  test('limits are checked when the server is created', async (t) => {
    await assert.rejects(startSts(t, pki, { limits: { maxInFlight: -1 } }), /"maxInFlight" must be an integer >= 0/);
    await assert.rejects(startSts(t, pki, { limits: { headersTimeoutMs: 5000, requestTimeoutMs: 1000 } }), /must not exceed/);
    await assert.rejects(startSts(t, pki, { rateLimit: { perSecond: 0, burst: 1 } }), /perSecond/);
  });
});

describe('revocation (CRL)', () => {
  let crlRevokingBob: string;
  before(async () => {
    crlRevokingBob = await createCrl(pki.ca, { revoked: [pki.bob.certPem] });
  });

  test('STS: a revoked certificate is invalid_client (CERT_REVOKED in the log); others are served', async (t) => {
    const sts = await startSts(t, pki, { tls: { ...serverTls(), crl: crlRevokingBob } });
    const refused = await postToken(agentFor(t, pki, pki.bob), sts.url, exchangeRequest({ subject_token: BOB_SECRET }));
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, 'invalid_client');
    const event = sts.events.find((e) => e.type === 'token.refused' && e.thumbprint === pki.bob.thumbprint);
    assert.ok(event !== undefined && event.type === 'token.refused' && /CERT_REVOKED/.test(event.detail ?? ''), JSON.stringify(event));
    assert.equal((await postToken(agentFor(t, pki, pki.alice), sts.url, exchangeRequest())).status, 200);
  });

  test('resource server: a revoked certificate gets 401 invalid_token even with a token bound to it', async (t) => {
    const sts = await startSts(t, pki);
    const bobToken = await tokenFor(sts, pki.bob, BOB_SECRET);
    const verifier = createBoundTokenVerifier({ keys: { keys: [sts.signingKey.publicJwk] }, issuer: ISSUER, audience: AUDIENCE });
    const resource = createResourceServer({ tls: { ...serverTls(), crl: crlRevokingBob }, verifier });
    const url = (await resource.listen()).origin;
    t.after(() => resource.close());
    const response = await request(`${url}/`, { dispatcher: agentFor(t, pki, pki.bob), headers: { authorization: `Bearer ${bobToken}` } });
    assert.equal(response.statusCode, 401);
    assert.match(String(response.headers['www-authenticate']), /error="invalid_token"/);
    await response.body.text();
    const aliceToken = await tokenFor(sts, pki.alice, ALICE_SECRET);
    const ok = await request(`${url}/`, { dispatcher: agentFor(t, pki, pki.alice), headers: { authorization: `Bearer ${aliceToken}` } });
    assert.equal(ok.statusCode, 200);
    await ok.body.text();
  });

  test('gRPC: a revoked certificate fails the handshake (UNAVAILABLE); others are served', async (t) => {
    const sts = await startSts(t, pki);
    const verifier = createBoundTokenVerifier({ keys: { keys: [sts.signingKey.publicJwk] }, issuer: ISSUER, audience: AUDIENCE });
    const echo = createEchoServer({ tls: { ...serverTls(), crl: crlRevokingBob }, verifier });
    const url = await echo.listen();
    t.after(() => echo.close());
    const target = `localhost:${url.port}`;
    const bob = await callUnary(echoClient(t, target, channelCredentials(pki, pki.bob)), bearer(await tokenFor(sts, pki.bob, BOB_SECRET)));
    assert.equal(bob.code, status.UNAVAILABLE);
    const alice = await callUnary(
      echoClient(t, target, channelCredentials(pki, pki.alice)),
      bearer(await tokenFor(sts, pki.alice, ALICE_SECRET)),
    );
    assert.equal(alice.code, status.OK, alice.details);
  });

  test('a CRL from a CA outside the bundle, or an expired one, is refused when loaded', async () => {
    const { loadTlsFiles } = await import('../../src/files/tls-files.js');
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    // eslint-disable-next-line @typescript-eslint/unbound-method -- @types/node declares path.join a method; it uses no `this`
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'certbound-crl-'));
    try {
      const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
      await writeFile(files.ca, pki.ca.certPem);
      await writeFile(files.cert, pki.server.certPem);
      await writeFile(files.key, pki.server.keyPem);
      const foreign = join(dir, 'foreign.crl');
      await writeFile(foreign, await createCrl(pki.otherCa, { revoked: [] }));
      await assert.rejects(loadTlsFiles({ ...files, crl: [foreign] }), /foreign\.crl: CRL: not signed by a CA in the CA bundle/);
      const expired = join(dir, 'expired.crl');
      await writeFile(
        expired,
        await createCrl(pki.ca, {
          revoked: [],
          thisUpdate: new Date(Date.now() - 10 * 86_400_000),
          nextUpdate: new Date(Date.now() - 86_400_000),
        }),
      );
      await assert.rejects(loadTlsFiles({ ...files, crl: [expired] }), /expired\.crl: CRL: expired at/);
      const garbage = join(dir, 'garbage.crl');
      await writeFile(garbage, 'not a crl');
      await assert.rejects(loadTlsFiles({ ...files, crl: [garbage] }), /garbage\.crl: CRL: no PEM CRL/);
      const good = join(dir, 'good.crl');
      await writeFile(good, crlRevokingBob);
      assert.deepEqual((await loadTlsFiles({ ...files, crl: [good] })).crl, [crlRevokingBob]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('TLS reload in place', () => {
  test('reloadTls: new connections see the new certificate and CRL; an open connection keeps working', async (t) => {
    const sts = await startSts(t, pki);
    const bobAgent = createMtlsAgent({ ca: pki.ca.certPem, cert: pki.bob.certPem, key: pki.bob.keyPem });
    t.after(() => bobAgent.close());
    // An open keep-alive connection from before the reload.
    assert.equal((await postToken(bobAgent, sts.url, exchangeRequest({ subject_token: BOB_SECRET }))).status, 200);
    const renewed = await issueCertificate(pki.ca, {
      commonName: 'localhost',
      usage: 'server',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    const { createStsServer } = await import('../../src/sts/server.js');
    const { testPolicy } = await import('../helpers/servers.js');
    const managed = createStsServer({
      issuer: ISSUER,
      signingKey: sts.signingKey,
      policy: testPolicy(pki),
      tls: serverTls(),
      rateLimit: false,
    });
    const url = (await managed.listen()).origin;
    t.after(() => managed.close());
    const kept = createMtlsAgent({ ca: pki.ca.certPem, cert: pki.bob.certPem, key: pki.bob.keyPem });
    t.after(() => kept.close());
    assert.equal((await postToken(kept, url, exchangeRequest({ subject_token: BOB_SECRET }))).status, 200);

    managed.reloadTls({
      ...serverTls(),
      cert: renewed.certPem,
      key: renewed.keyPem,
      crl: await createCrl(pki.ca, { revoked: [pki.bob.certPem] }),
    });

    // The connection opened before the reload still carries requests (its handshake stands).
    assert.equal((await postToken(kept, url, exchangeRequest({ subject_token: BOB_SECRET }))).status, 200);
    // A new connection gets the renewed server certificate...
    const socket = await rawConnection(url, pki.alice);
    assert.equal(
      socket.getPeerX509Certificate()?.fingerprint256,
      new (await import('node:crypto')).X509Certificate(renewed.certPem).fingerprint256,
    );
    socket.destroy();
    // ...and the new CRL: bob is refused on his next handshake, alice is not.
    const fresh = createMtlsAgent({ ca: pki.ca.certPem, cert: pki.bob.certPem, key: pki.bob.keyPem });
    t.after(() => fresh.close());
    assert.equal((await postToken(fresh, url, exchangeRequest({ subject_token: BOB_SECRET }))).status, 401);
    assert.equal((await postToken(agentFor(t, pki, pki.alice), url, exchangeRequest())).status, 200);
  });

  test('gRPC reloadTls: a CRL added at run time refuses the next handshake', async (t) => {
    const sts = await startSts(t, pki);
    const verifier = createBoundTokenVerifier({ keys: { keys: [sts.signingKey.publicJwk] }, issuer: ISSUER, audience: AUDIENCE });
    const echo = createEchoServer({ tls: serverTls(), verifier });
    const url = await echo.listen();
    t.after(() => echo.close());
    const target = `localhost:${url.port}`;
    const token = await tokenFor(sts, pki.bob, BOB_SECRET);
    assert.equal((await callUnary(echoClient(t, target, channelCredentials(pki, pki.bob)), bearer(token))).code, status.OK);
    echo.reloadTls({ ...serverTls(), crl: await createCrl(pki.ca, { revoked: [pki.bob.certPem] }) });
    assert.equal((await callUnary(echoClient(t, target, channelCredentials(pki, pki.bob)), bearer(token))).code, status.UNAVAILABLE);
  });
});

describe('gRPC limits', () => {
  test('maxConcurrentStreams: with one stream per connection, a second call waits for the first to end', async (t) => {
    const sts = await startSts(t, pki);
    const verifier = createBoundTokenVerifier({ keys: { keys: [sts.signingKey.publicJwk] }, issuer: ISSUER, audience: AUDIENCE });
    // The server's interceptor verifies a call's token as soon as the call's headers arrive: the
    // count of verifications is the count of calls that reached the server.
    let arrivedCalls = 0;
    const counting = { verify: (token: string, thumbprint: string | undefined) => (arrivedCalls++, verifier.verify(token, thumbprint)) };
    const echo = createEchoServer({ tls: serverTls(), verifier: counting, maxConcurrentStreams: 1 });
    const url = await echo.listen();
    t.after(() => echo.forceClose()); // even when an assertion fails with the chat still open
    const client = echoClient(t, `localhost:${url.port}`, channelCredentials(pki, pki.alice));
    const metadata = bearer(await tokenFor(sts, pki.alice, ALICE_SECRET));
    // A chat that stays open holds the connection's only stream.
    const chat = client.SayHelloChat(metadata, {});
    t.after(() => chat.cancel());
    const replies: string[] = [];
    chat.on('data', (reply) => replies.push((reply as { message: string }).message));
    chat.on('error', () => {});
    chat.write({ name: 'first' });
    await whenever(chat, 'data', () => replies.length === 1, 'the first chat reply');
    assert.equal(arrivedCalls, 1);
    let unaryDone = false;
    const unary = callUnary(client, metadata).then((outcome) => {
      unaryDone = true;
      return outcome;
    });
    // A round trip on the chat, sent after the unary call was started, on the same connection:
    // had the unary call's headers gone out, the server would have read them before this message.
    chat.write({ name: 'second' });
    await whenever(chat, 'data', () => replies.length === 2, 'the second chat reply');
    assert.equal(arrivedCalls, 1, 'the second call must not reach the server while the chat holds the only stream');
    assert.equal(unaryDone, false, 'the second call must wait for a free stream');
    chat.end();
    const outcome = await unary;
    assert.equal(outcome.code, status.OK, outcome.details);
    assert.equal(arrivedCalls, 2, 'the second call reached the server once the chat ended');
    assert.throws(
      () => createEchoServer({ tls: serverTls(), verifier, maxConcurrentStreams: 0 }),
      /"maxConcurrentStreams" must be an integer >= 1/,
    );
  });
});
