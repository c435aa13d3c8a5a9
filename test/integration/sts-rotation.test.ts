// Key rotation under load: a client loops token → resource while the keystore rotates; the
// resource fetches the STS's JWKS over https. Nothing may fail, and both keys must be seen.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { request } from 'undici';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import { createResourceServer } from '../../src/cli/servers/resource-server.js';
import { loadJwksSource } from '../../src/keys/jwks-source.js';
import { addKeystoreKey, openKeystore, type KeystoreProvider } from '../../src/keys/keystore.js';
import { createStsServer } from '../../src/sts/server.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, AUDIENCE, exchangeRequest, ISSUER, postToken, testPolicy } from '../helpers/servers.js';

let pki: TestPki;
let dir: string;
let keys: KeystoreProvider;
let stsUrl: string;
let resourceUrl: string;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  pki = await createTestPki();
  dir = await mkdtemp(join(tmpdir(), 'certbound-keystore-'));
  await addKeystoreKey(dir, { now: Math.floor(Date.now() / 1000) });
  keys = await openKeystore(dir, { reloadIntervalMs: 100 });
  const sts = createStsServer({
    issuer: ISSUER,
    keys,
    policy: testPolicy(pki),
    tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    accessTokenLifetimeSeconds: 3,
    rateLimit: false,
  }); // the loop asks for a token per call, far above a real client's rate
  stsUrl = (await sts.listen(0, '127.0.0.1')).origin;
  cleanups.push(() => sts.close());
  // The resource keeps the JWKS 1 s and may re-fetch for an unknown kid after 1 s.
  const jwks = await loadJwksSource(`${stsUrl}/.well-known/jwks.json`, { ca: pki.ca.certPem, cacheMaxAgeMs: 1000, cooldownMs: 1000 });
  const resource = createResourceServer({
    tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    verifier: createBoundTokenVerifier({ keys: jwks, issuer: ISSUER, audience: AUDIENCE }),
  });
  resourceUrl = (await resource.listen(0, '127.0.0.1')).origin;
  cleanups.push(() => resource.close());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  keys.close();
  await rm(dir, { recursive: true, force: true });
});

test('a rotation while a client loops token → resource: every call succeeds, and the new key takes over', { timeout: 30_000 }, async () => {
  const alice = agentFor(suite, pki, pki.alice);
  const kids = new Set<string>();
  const failures: string[] = [];
  let calls = 0;
  let rotated = false;
  const started = Date.now();
  // Bounded: at most 5 s and 20000 iterations.
  while (Date.now() - started < 5000 && calls < 20_000) {
    if (!rotated && Date.now() - started > 1000) {
      // Published now, signing in 2 s; the old key stays published 3 s (token lifetime) + 60 s.
      await addKeystoreKey(dir, { now: Math.floor(Date.now() / 1000), publishAheadSeconds: 2, maxTokenLifetimeSeconds: 3 });
      await keys.reload();
      rotated = true;
    }
    const issued = await postToken(alice, stsUrl, exchangeRequest());
    if (issued.status !== 200) {
      failures.push(`token ${issued.status} ${JSON.stringify(issued.body)}`);
      continue;
    }
    const token = issued.body.access_token as string;
    kids.add(decodeProtectedHeader(token).kid as string);
    const answer = await request(`${resourceUrl}/`, { dispatcher: alice, headers: { authorization: `Bearer ${token}` } });
    const body = await answer.body.text();
    if (answer.statusCode !== 200) failures.push(`resource ${answer.statusCode} ${body}`);
    calls += 1;
  }
  assert.deepEqual(failures, []);
  assert.ok(calls > 20, `only ${calls} calls`);
  assert.equal(kids.size, 2, `kids seen: ${[...kids].join(', ')}`);
});

test('the JWKS publishes both keys after a rotation and is cached no longer than the next change', async () => {
  const now = Math.floor(Date.now() / 1000);
  await addKeystoreKey(dir, { now, publishAheadSeconds: 30, maxTokenLifetimeSeconds: 3 });
  await keys.reload();
  const response = await request(`${stsUrl}/.well-known/jwks.json`, { dispatcher: agentFor(suite, pki) });
  const jwks = (await response.body.json()) as { keys: { kid: string }[] };
  assert.ok(jwks.keys.length >= 2, JSON.stringify(jwks));
  const maxAge = Number(/max-age=(\d+)/.exec(String(response.headers['cache-control']))?.[1]);
  assert.ok(maxAge <= 30 && maxAge >= 0, `max-age ${maxAge}`);
  // The signer is still the previous key until the new one activates.
  const signer = keys.signingKey(now);
  assert.ok(signer !== undefined && jwks.keys.some((key) => key.kid === signer.kid));
});
