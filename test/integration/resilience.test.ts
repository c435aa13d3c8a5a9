// Dependencies failing under a running system: a JWKS URL that goes away and comes back, an STS
// that restarts, and connections reset under a client's token request.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createMtlsAgent } from '../../src/client/mtls-agent.js';
import { createTokenSource } from '../../src/client/token-source.js';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import { serverTlsOptions } from '../../src/server/tls.js';
import { remoteJwksSource, type JwksEvent } from '../../src/keys/jwks-source.js';
import { addKeystoreKey, openKeystore, type KeystoreEvent } from '../../src/keys/keystore.js';
import { createStsHandler, createStsServer } from '../../src/sts/server.js';
import { DEFAULTS } from '../../src/defaults.js';
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
  testPolicy,
  type RunningSts,
} from '../helpers/servers.js';
import { whenever } from '../helpers/wait.js';

let pki: TestPki;
let sts: RunningSts;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  pki = await createTestPki();
  sts = await startSts(suite, pki, { rateLimit: false });
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.on('close', () => server.closeAllConnections());
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function aliceToken(stsUrl = sts.url): Promise<string> {
  const response = await postToken(agentFor(suite, pki, pki.alice), stsUrl, exchangeRequest());
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.access_token as string;
}

describe('a JWKS URL that becomes unreachable', () => {
  test('keys already fetched keep verifying (logged) up to maxStalenessMs, then 503 until the URL answers again', async () => {
    let up = true;
    let fetches = 0;
    const jwksServer = createServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (_req, res) => {
      fetches++;
      if (!up) {
        res.socket?.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [sts.signingKey.publicJwk] }));
    });
    const url = `${await listen(jwksServer)}/jwks`;
    let clock = Date.now();
    const events: JwksEvent[] = [];
    const logged = new EventEmitter();
    const onEvent = (event: JwksEvent): void => {
      events.push(event);
      logged.emit('event', event);
    };
    const keys = remoteJwksSource(url, {
      ca: pki.ca.certPem,
      cacheMaxAgeMs: 1000,
      cooldownMs: 500,
      maxStalenessMs: 10_000,
      now: () => clock,
      onEvent,
    });
    const verifier = createBoundTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE });
    const token = await aliceToken();

    assert.equal((await verifier.verify(token, pki.alice.thumbprint)).subject, 'alice');
    assert.equal(fetches, 1);

    up = false;
    clock += 2000; // past cacheMaxAgeMs: a background refresh starts, the cached keys answer
    assert.equal((await verifier.verify(token, pki.alice.thumbprint)).subject, 'alice');
    await whenever(logged, 'event', () => events.some((event) => event.type === 'jwks.fetch_failed'), 'fetch_failed event');
    const failed = events.find((event) => event.type === 'jwks.fetch_failed');
    assert.ok(failed?.type === 'jwks.fetch_failed' && failed.keysAgeSeconds === 2 && failed.url === url, JSON.stringify(failed));
    assert.doesNotMatch(JSON.stringify(events), /"x":|"d":/, 'events never carry key material');

    clock += 5000; // still within maxStalenessMs, outage ongoing
    assert.equal((await verifier.verify(token, pki.alice.thumbprint)).subject, 'alice');

    clock += 5000; // 12 s old: past maxStalenessMs, the keys are dropped and the URL is still down
    await assert.rejects(verifier.verify(token, pki.alice.thumbprint), { code: 'CB_JWKS_UNAVAILABLE' });
    assert.ok(events.some((event) => event.type === 'jwks.expired' && event.keysAgeSeconds === 12));
    // Once a fetch has failed at this moment, requests within the cooldown fail fast, fetching nothing.
    await assert.rejects(verifier.verify(token, pki.alice.thumbprint), { code: 'CB_JWKS_UNAVAILABLE' });
    const before = fetches;
    await assert.rejects(verifier.verify(token, pki.alice.thumbprint), { code: 'CB_JWKS_UNAVAILABLE' });
    assert.equal(fetches, before);

    up = true;
    clock += 1000;
    assert.equal((await verifier.verify(token, pki.alice.thumbprint)).subject, 'alice');
    assert.ok(events.some((event) => event.type === 'jwks.recovered' && event.keys === 1));
  });

  test('a JWKS response that is not a usable key set counts as unavailable, not as a bad token', async () => {
    const jwksServer = createServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }));
    });
    const events: JwksEvent[] = [];
    const keys = remoteJwksSource(`${await listen(jwksServer)}/jwks`, { ca: pki.ca.certPem, onEvent: (event) => events.push(event) });
    const verifier = createBoundTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE });
    await assert.rejects(verifier.verify(await aliceToken(), pki.alice.thumbprint), { code: 'CB_JWKS_UNAVAILABLE' });
    assert.match(JSON.stringify(events), /contains a symmetric key/);
  });
});

describe('an STS restart', () => {
  test('tokens issued before the restart verify against the restarted STS (same keystore)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'certbound-restart-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await addKeystoreKey(dir, { now: Math.floor(Date.now() / 1000) });
    const start = async () => {
      const keys = await openKeystore(dir);
      const server = createStsServer({
        issuer: ISSUER,
        keys,
        policy: testPolicy(pki),
        tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
      });
      const url = (await server.listen()).origin;
      return {
        url,
        stop: async () => {
          await server.close();
          keys.close();
        },
      };
    };
    const first = await start();
    const token = await aliceToken(first.url);
    await first.stop();
    const second = await start();
    t.after(() => second.stop());
    const keys = remoteJwksSource(`${second.url}/.well-known/jwks.json`, { ca: pki.ca.certPem });
    const verifier = createBoundTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE });
    assert.equal((await verifier.verify(token, pki.alice.thumbprint)).subject, 'alice');
  });
});

describe('a keystore that changes on disk', () => {
  test('a good change is reloaded and reported; a broken one keeps the last good keys and is reported', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'certbound-keystore-events-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const now = Math.floor(Date.now() / 1000);
    await addKeystoreKey(dir, { now });
    const events: KeystoreEvent[] = [];
    const keys = await openKeystore(dir, { onEvent: (event) => events.push(event) });
    t.after(() => keys.close());
    const signer = keys.signingKey(now)?.kid;

    await addKeystoreKey(dir, { now, publishAheadSeconds: 30 });
    assert.equal(await keys.reload(), true);
    assert.deepEqual(events, [{ type: 'keystore.reloaded', keys: 2 }]);

    await writeFile(join(dir, 'keystore.json'), '{ not json');
    assert.equal(await keys.reload(), false);
    const failed = events[1];
    assert.ok(failed?.type === 'keystore.reload_failed', JSON.stringify(events));
    assert.match(failed.error.message, /keystore\.json/);
    assert.equal(keys.publishedKeys(now).length, 2, 'the last good keys stay published');
    assert.equal(keys.signingKey(now)?.kid, signer, 'and the same key keeps signing');
  });

  test('its options are checked: an unknown one or a bad interval is a ConfigError', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'certbound-keystore-options-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await addKeystoreKey(dir, { now: Math.floor(Date.now() / 1000) });
    await assert.rejects(openKeystore(dir, { onReloadError: () => {} } as never), {
      code: 'CB_CONFIG_INVALID',
      message: /"onReloadError" is not an option/,
    });
    await assert.rejects(openKeystore(dir, { reloadIntervalMs: 0 }), {
      code: 'CB_CONFIG_INVALID',
      message: /"reloadIntervalMs" must be a positive/,
    });
  });
});

describe('connection resets under a token request', () => {
  /** An STS whose first `resets` token requests have their connection destroyed mid-request. */
  async function flakySts(resets: number): Promise<{ url: string; attempts: () => number }> {
    const handler = createStsHandler({
      issuer: ISSUER,
      signingKey: sts.signingKey,
      policy: testPolicy(pki),
      tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
      rateLimit: false,
    });
    let attempts = 0;
    const server = createServer(serverTlsOptions({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem }), (req, res) => {
      if (req.url === '/token' && attempts++ < resets) {
        req.socket.destroy();
        return;
      }
      handler(req, res);
    });
    return { url: await listen(server), attempts: () => attempts };
  }

  // The backoff runs on an injected clock: each wait is recorded and returns at once.
  const { retryBaseDelayMs: base } = DEFAULTS.client;

  test('the token source retries an idempotent token request on a reset connection (bounded backoff)', async (t) => {
    const flaky = await flakySts(2);
    const agent = createMtlsAgent({ ca: pki.ca.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem });
    t.after(() => agent.close());
    const clock = steppedClock();
    const source = createTokenSource({
      stsUrl: flaky.url,
      agent,
      subjectToken: ALICE_SECRET,
      audience: AUDIENCE,
      now: clock.now,
      sleep: clock.sleep,
    });
    const token = await source.getToken();
    assert.equal(token.split('.').length, 3);
    assert.equal(flaky.attempts(), 3, 'two resets, then the third attempt succeeded');
    // Exponential with jitter: the n-th wait is between half and all of base * 2^n.
    assert.equal(clock.slept.length, 2, `waits ${clock.slept.join(', ')}`);
    clock.slept.forEach((ms, n) => assert.ok(ms >= (base * 2 ** n) / 2 && ms <= base * 2 ** n, `wait ${n}: ${ms} ms`));
  });

  test('retries are bounded: after `retries` more attempts the failure is CB_STS_UNAVAILABLE', async (t) => {
    const flaky = await flakySts(10);
    const agent = createMtlsAgent({ ca: pki.ca.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem });
    t.after(() => agent.close());
    const clock = steppedClock();
    const source = createTokenSource({
      stsUrl: flaky.url,
      agent,
      subjectToken: ALICE_SECRET,
      audience: AUDIENCE,
      retries: 1,
      now: clock.now,
      sleep: clock.sleep,
    });
    await assert.rejects(source.getToken(), { code: 'CB_STS_UNAVAILABLE' });
    assert.equal(flaky.attempts(), 2);
    assert.equal(clock.slept.length, 1, 'one wait before the one retry');
    const none = createTokenSource({
      stsUrl: flaky.url,
      agent,
      subjectToken: ALICE_SECRET,
      audience: AUDIENCE,
      retries: 0,
      now: clock.now,
      sleep: clock.sleep,
    });
    await assert.rejects(none.getToken(), { code: 'CB_STS_UNAVAILABLE' });
    assert.equal(flaky.attempts(), 3);
    assert.equal(clock.slept.length, 1, 'no retry, no wait');
    assert.throws(
      () => createTokenSource({ stsUrl: flaky.url, agent, subjectToken: ALICE_SECRET, audience: AUDIENCE, retries: 11 }),
      /"retries" must be an integer from 0 to 10/,
    );
  });

  test('a refusal is not retried', async (t) => {
    const flaky = await flakySts(0);
    const agent = createMtlsAgent({ ca: pki.ca.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem });
    t.after(() => agent.close());
    const clock = steppedClock();
    const source = createTokenSource({
      stsUrl: flaky.url,
      agent,
      subjectToken: 'not-a-known-token',
      audience: AUDIENCE,
      now: clock.now,
      sleep: clock.sleep,
    });
    await assert.rejects(source.getToken(), { code: 'CB_STS_REFUSED', remoteError: 'invalid_request' });
    assert.equal(flaky.attempts(), 1);
    assert.deepEqual(clock.slept, []);
  });
});
