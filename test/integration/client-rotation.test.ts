// Issue #17 part 5, and AzureAD/microsoft-authentication-library-for-dotnet#6117: after the client
// certificate rotates, no request may carry a token bound to a certificate its connection lacks.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { decodeJwt } from 'jose';
import { createBoundFetch } from '../../src/client/bound-fetch.js';
import { createClientIdentity, type ClientIdentityEvent } from '../../src/client/client-identity.js';
import { createMtlsAgent } from '../../src/client/mtls-agent.js';
import { watchClientIdentity } from '../../src/client/client-identity-files.js';
import { createTokenSource } from '../../src/client/token-source.js';
import { createEchoServer, loadEchoDefinitions, type EchoServerEvent } from '../../src/cli/servers/echo-server.js';
import { createResourceServer, type ResourceEvent } from '../../src/cli/servers/resource-server.js';
import { parsePolicy } from '../../src/config/policy.js';
import { hashSubjectToken } from '../../src/core/policy/authorize.js';
import { createBoundTokenVerifier, type BoundTokenVerifier } from '../../src/core/verify.js';
import { createStsCredentials } from '../../src/grpc/call-credentials.js';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/generate.js';
import { callUnary, type EchoClient, type Outcome } from '../helpers/grpc.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { temporarySecretVolume, type SecretVolume } from '../helpers/secret-volume.js';
import { ALICE_SECRET, AUDIENCE, ISSUER, startSts, type RunningSts } from '../helpers/servers.js';
import { nextEvent } from '../helpers/wait.js';

type After = { after(fn: () => unknown): void };

/** Requests after the rotation is seen that each load test waits for; the whole load is capped. */
const AFTER_ROTATION = 40;
const MAX_REQUESTS = 3000;
const WORKERS = 4;
const ROTATE_AT = 20;

let pki: TestPki;
/** Alice's next certificate: same name, new key, so a new thumbprint. */
let renewed: IssuedCertificate;
let sts: RunningSts;
let verifier: BoundTokenVerifier;
const cleanups: Array<() => unknown> = [];
const suite: After = { after: (fn) => cleanups.push(fn) };

before(async () => {
  pki = await createTestPki();
  renewed = await issueCertificate(pki.ca, { commonName: 'alice', usage: 'client' });
  // Alice's subject token is pinned to her name, not to one certificate, so a renewal still works.
  const aliceName = { subject_dn: 'CN=alice, O=certbound dev' };
  const policy = parsePolicy({
    clients: [{ client_id: 'alice', certificate: aliceName }],
    subject_tokens: [
      { sha256: hashSubjectToken(ALICE_SECRET), subject: 'alice', client_certificate: aliceName, audiences: [AUDIENCE], scopes: ['read'] },
    ],
  });
  sts = await startSts(suite, pki, { policy });
  verifier = createBoundTokenVerifier({ keys: { keys: [sts.signingKey.publicJwk] }, issuer: ISSUER, audience: AUDIENCE });
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const filesOf = (client: IssuedCertificate, key = client.keyPem): Record<string, string> => ({
  'tls.crt': client.certPem,
  'tls.key': key,
  'ca.crt': pki.ca.certPem,
});

/** Alice's files in a Secret volume, followed by a watched identity whose events are emitted. */
async function watchedAlice(t: After) {
  const volume = await temporarySecretVolume(t, filesOf(pki.alice));
  const events = new EventEmitter();
  const log: ClientIdentityEvent[] = [];
  const identity = await watchClientIdentity({
    cert: volume.path('tls.crt'),
    key: volume.path('tls.key'),
    ca: volume.path('ca.crt'),
    debounceMs: 10,
    onEvent: (event) => {
      log.push(event);
      events.emit(event.type, event);
    },
  });
  t.after(() => identity.close());
  return { volume, identity, events, log };
}

/**
 * Run `request` from WORKERS loops until AFTER_ROTATION requests have started after the identity
 * changed (or MAX_REQUESTS in all); the volume is rotated when request ROTATE_AT starts.
 */
async function loadAcrossRotation<T>(
  volume: SecretVolume,
  events: EventEmitter,
  request: () => Promise<T>,
): Promise<{ before: T[]; after: T[] }> {
  const results = { before: [] as T[], after: [] as T[] };
  let rotated = false;
  events.once('identity.changed', () => (rotated = true));
  const changed = nextEvent(events, 'identity.changed', 'the rotated certificate was seen', 10_000);
  let started = 0;
  let startedAfter = 0;
  let rotation: Promise<void> | undefined;
  const worker = async (): Promise<void> => {
    while (started < MAX_REQUESTS && startedAfter < AFTER_ROTATION) {
      if (started++ === ROTATE_AT) rotation = volume.rotate(filesOf(renewed));
      const afterRotation = rotated;
      if (afterRotation) startedAfter++;
      const result = await request();
      (afterRotation ? results.after : results.before).push(result);
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  await rotation;
  await changed;
  return results;
}

describe('rotation-aware clients: the certificate files change under load', () => {
  test('token → resource: zero 401s, and every request after the rotation carries the new thumbprint', async (t) => {
    const { volume, identity, events, log } = await watchedAlice(t);
    const resourceEvents: ResourceEvent[] = [];
    const resource = createResourceServer({
      tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
      verifier,
      onEvent: (event) => resourceEvents.push(event),
    });
    const url = await resource.listen(0, '127.0.0.1');
    t.after(() => resource.close());
    const tokens = createTokenSource({ stsUrl: sts.url, identity, subjectToken: ALICE_SECRET, audience: AUDIENCE, scope: 'read' });
    t.after(() => tokens.close());
    const boundFetch = createBoundFetch({ tokenSource: tokens });
    t.after(() => boundFetch.close());

    const results = await loadAcrossRotation(volume, events, async () => {
      const response = await boundFetch(`${url.origin}/`);
      const body = (await response.json()) as Record<string, unknown>;
      return { status: response.status, thumbprint: body['x5t#S256'] };
    });

    const all = [...results.before, ...results.after];
    assert.deepEqual(new Set(all.map((result) => result.status)), new Set([200]), 'no request was refused');
    assert.deepEqual(
      resourceEvents.filter((event) => event.type === 'request.refused'),
      [],
    );
    assert.ok(results.after.length >= AFTER_ROTATION, `${results.after.length} requests after the rotation`);
    assert.deepEqual(new Set(results.after.map((result) => result.thumbprint)), new Set([renewed.thumbprint]));
    assert.ok(
      results.before.some((result) => result.thumbprint === pki.alice.thumbprint),
      'the load began on the old certificate',
    );
    assert.deepEqual(
      log.map((event) => event.type),
      ['identity.changed'],
    );
    assert.equal(identity.current().thumbprint, renewed.thumbprint);
    assert.deepEqual(decodeJwt(await tokens.getToken()).cnf, { 'x5t#S256': renewed.thumbprint });
  });

  test('gRPC: zero UNAUTHENTICATED, and every call after the rotation is bound to the new certificate', async (t) => {
    const { volume, identity, events } = await watchedAlice(t);
    const serverEvents: EchoServerEvent[] = [];
    const echo = createEchoServer({
      tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
      verifier,
      onEvent: (event) => serverEvents.push(event),
    });
    const address = await echo.listen(0, '127.0.0.1');
    t.after(() => echo.forceClose());
    const sts_ = createStsCredentials({ stsUrl: sts.url, identity, subjectToken: ALICE_SECRET, audience: AUDIENCE });
    t.after(() => sts_.close());
    const { EchoServer } = loadEchoDefinitions();
    const client = sts_.createClient((channel) => new EchoServer(`localhost:${address.port}`, channel) as unknown as EchoClient);
    const firstChannel = sts_.channelCredentials;

    const results = await loadAcrossRotation(volume, events, async (): Promise<Outcome & { thumbprint: string | undefined }> => {
      const outcome = await callUnary(client.current(), undefined, 'Alice');
      return { ...outcome, thumbprint: /bound to x5t#S256 (\S+)\)$/.exec(outcome.replies[0] ?? '')?.[1] };
    });

    const all = [...results.before, ...results.after];
    assert.deepEqual(new Set(all.map((result) => `${status[result.code]} ${result.details}`)), new Set(['OK OK']));
    assert.deepEqual(
      serverEvents.filter((event) => event.type === 'call.refused'),
      [],
    );
    assert.ok(results.after.length >= AFTER_ROTATION, `${results.after.length} calls after the rotation`);
    assert.deepEqual(new Set(results.after.map((result) => result.thumbprint)), new Set([renewed.thumbprint]));
    assert.ok(
      results.before.some((result) => result.thumbprint === pki.alice.thumbprint),
      'the load began on the old certificate',
    );
    assert.notEqual(sts_.channelCredentials, firstChannel, 'new channel credentials for the new certificate');
    assert.equal(sts_.channelCredentials, sts_.channelCredentialsFor(identity.current()));
  });
});

describe('a rotation caught half-way keeps the last good identity', () => {
  test('a certificate whose key is not written yet is refused with the reason; the old pair keeps working', async (t) => {
    const { volume, identity, events, log } = await watchedAlice(t);
    const resource = createResourceServer({ tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem }, verifier });
    const url = await resource.listen(0, '127.0.0.1');
    t.after(() => resource.close());
    const tokens = createTokenSource({ stsUrl: sts.url, identity, subjectToken: ALICE_SECRET, audience: AUDIENCE });
    t.after(() => tokens.close());
    const boundFetch = createBoundFetch({ tokenSource: tokens });
    t.after(() => boundFetch.close());
    const thumbprintSeen = async (): Promise<unknown> => {
      const response = await boundFetch(`${url.origin}/`);
      assert.equal(response.status, 200);
      return ((await response.json()) as Record<string, unknown>)['x5t#S256'];
    };
    assert.equal(await thumbprintSeen(), pki.alice.thumbprint);

    const refused = nextEvent<[ClientIdentityEvent]>(events, 'identity.refused', 'the mismatched pair was refused');
    await volume.rotate(filesOf(renewed, pki.alice.keyPem));
    const [event] = await refused;
    assert.deepEqual(event, {
      type: 'identity.refused',
      reason: 'the client private key does not match the client certificate',
      keptThumbprint: pki.alice.thumbprint,
    });
    assert.equal(identity.current().thumbprint, pki.alice.thumbprint);
    assert.equal(await thumbprintSeen(), pki.alice.thumbprint);

    const changed = nextEvent(events, 'identity.changed', 'the complete pair was taken');
    await volume.rotate(filesOf(renewed));
    await changed;
    assert.equal(await thumbprintSeen(), renewed.thumbprint);
    assert.deepEqual(
      log.map((entry) => entry.type),
      ['identity.refused', 'identity.changed'],
    );
  });

  test('a missing file is refused naming it; reload() reads the files on demand', async (t) => {
    const { volume, identity, log } = await watchedAlice(t);
    const { rm } = await import('node:fs/promises');
    await rm(volume.path('tls.key'));
    assert.equal(await identity.reload(), false);
    assert.equal(identity.current().thumbprint, pki.alice.thumbprint);
    const last = log.at(-1);
    assert.equal(last?.type, 'identity.refused');
    assert.match(last.type === 'identity.refused' ? last.reason : '', /tls\.key: client private key: no such file$/);
  });
});

describe('createClientIdentity: material in memory, changed by update()', () => {
  test('update() with a mismatched pair throws and keeps the identity; a good one moves tokens to the new thumbprint', async (t) => {
    const log: ClientIdentityEvent[] = [];
    const identity = createClientIdentity(
      { ca: pki.ca.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem },
      { onEvent: (e) => log.push(e) },
    );
    const tokens = createTokenSource({ stsUrl: sts.url, identity, subjectToken: ALICE_SECRET, audience: AUDIENCE });
    t.after(() => tokens.close());
    const first = identity.current();
    assert.equal(first.thumbprint, pki.alice.thumbprint);
    assert.deepEqual(decodeJwt(await tokens.getToken()).cnf, { 'x5t#S256': pki.alice.thumbprint });

    assert.throws(() => identity.update({ ca: pki.ca.certPem, cert: renewed.certPem, key: pki.alice.keyPem }), {
      name: 'TypeError',
      code: 'CB_CONFIG_INVALID',
      message: 'the client private key does not match the client certificate',
    });
    assert.equal(identity.current(), first);
    assert.equal(
      identity.update({ ca: pki.ca.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem }),
      first,
      'same material, no change',
    );

    const issued = sts.events.filter((event) => event.type === 'token.issued').length;
    identity.update({ ca: pki.ca.certPem, cert: renewed.certPem, key: renewed.keyPem });
    assert.equal(identity.current().serial, 2);
    const token = await tokens.getTokenResponse();
    assert.deepEqual(decodeJwt(token.accessToken).cnf, { 'x5t#S256': renewed.thumbprint });
    assert.equal(sts.events.filter((event) => event.type === 'token.issued').length - issued, 1, 'one exchange for the new thumbprint');
    assert.notEqual((await tokens.getTokenFor(first)).accessToken, token.accessToken, 'each thumbprint has its own token');
    assert.deepEqual(
      log.map((event) => event.type),
      ['identity.refused', 'identity.changed'],
    );
  });

  test('misuse: identity with tls; bound fetch without an agent needs a token source with an identity', (t) => {
    const identity = createClientIdentity({ cert: pki.alice.certPem, key: pki.alice.keyPem });
    const tls = { cert: pki.alice.certPem, key: pki.alice.keyPem };
    const agent = createMtlsAgent({ ca: pki.ca.certPem, ...tls });
    t.after(() => agent.close());
    const overAgent = createTokenSource({ stsUrl: sts.url, agent, subjectToken: 'x' });
    assert.equal(overAgent.identity, undefined);
    assert.throws(() => createBoundFetch({ tokenSource: overAgent }), {
      name: 'TypeError',
      message: /give "agent", or a token source made with "identity" or "tls"/,
    });
    assert.throws(() => createTokenSource({ stsUrl: sts.url, identity, tls, subjectToken: 'x' }), {
      name: 'TypeError',
      message: /"identity" alone/,
    });
    assert.throws(() => createClientIdentity({ cert: 'not a certificate', key: pki.alice.keyPem }), { message: /not a PEM certificate/ });
  });
});
