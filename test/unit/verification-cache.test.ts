// The verified-token cache: hits only for the same token over the same certificate, never past
// exp or maxAge, never for failures, bounded in size.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { createSigningKey, type SigningKey } from '../../src/core/signing/signer.js';
import { createBoundTokenVerifier, type BoundTokenVerifier } from '../../src/core/verify.js';
import { withVerificationCache } from '../../src/core/verification-cache.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';

const ISSUER = 'https://sts.domain.com';
const AUDIENCE = 'https://server.domain.com:8443';
const START_MS = 1_700_000_000_000;

let pki: TestPki;
let key: SigningKey;
let otherKey: SigningKey;

before(async () => {
  pki = await createTestPki();
  key = await createSigningKey({ privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey });
  otherKey = await createSigningKey({ privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, kid: 'other' });
});

async function sign(overrides: Partial<JWTPayload> = {}, signer: SigningKey = key): Promise<string> {
  const iat = START_MS / 1000;
  const claims = { iss: ISSUER, sub: 'alice', aud: AUDIENCE, iat, exp: iat + 300, cnf: { 'x5t#S256': pki.alice.thumbprint }, ...overrides };
  return new SignJWT(claims).setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt' }).sign(signer.privateKey);
}

/** A real verifier wrapped in a counter, so the tests see when the cache answers instead. */
function counted(clock: { now: number }): { inner: BoundTokenVerifier; calls: () => number } {
  const real = createBoundTokenVerifier({
    keys: { keys: [key.publicJwk] },
    issuer: ISSUER,
    audience: AUDIENCE,
    now: () => clock.now,
    clockToleranceSeconds: 0,
  });
  let calls = 0;
  return {
    inner: { verify: (token, thumbprint) => ((calls += 1), real.verify(token, thumbprint)) },
    calls: () => calls,
  };
}

test('a second verification of the same token over the same certificate is answered from the cache', async () => {
  const clock = { now: START_MS };
  const { inner, calls } = counted(clock);
  const cached = withVerificationCache(inner, { now: () => clock.now });
  const token = await sign();
  const first = await cached.verify(token, pki.alice.thumbprint);
  const second = await cached.verify(token, pki.alice.thumbprint);
  assert.equal(first.subject, 'alice');
  assert.equal(second, first);
  assert.equal(calls(), 1);
  assert.equal(cached.size, 1);
});

test('onLookup hears each lookup: a miss, then a hit; an expired entry is a miss again', async () => {
  const clock = { now: START_MS };
  const { inner } = counted(clock);
  const lookups: boolean[] = [];
  const cached = withVerificationCache(inner, { now: () => clock.now, maxAgeSeconds: 10, onLookup: (hit) => lookups.push(hit) });
  const token = await sign();
  await cached.verify(token, pki.alice.thumbprint);
  await cached.verify(token, pki.alice.thumbprint);
  clock.now += 11_000;
  await cached.verify(token, pki.alice.thumbprint);
  assert.deepEqual(lookups, [false, true, false]);
});

test('the cache key includes the certificate: the same token over another certificate is verified, and refused', async () => {
  const clock = { now: START_MS };
  const { inner, calls } = counted(clock);
  const cached = withVerificationCache(inner, { now: () => clock.now });
  const token = await sign();
  await cached.verify(token, pki.alice.thumbprint);
  await assert.rejects(cached.verify(token, pki.bob.thumbprint), { code: 'CB_CNF_MISMATCH' });
  await assert.rejects(cached.verify(token, undefined), { code: 'CB_CLIENT_CERT_MISSING' });
  assert.equal(calls(), 3);
});

test('failures are never cached: a refused token is refused each time, a valid one is still accepted', async () => {
  const clock = { now: START_MS };
  const { inner, calls } = counted(clock);
  const cached = withVerificationCache(inner, { now: () => clock.now });
  const foreign = await sign({}, otherKey);
  await assert.rejects(cached.verify(foreign, pki.alice.thumbprint), { code: 'CB_TOKEN_KEY_UNKNOWN' });
  await assert.rejects(cached.verify(foreign, pki.alice.thumbprint), { code: 'CB_TOKEN_KEY_UNKNOWN' });
  assert.equal(cached.size, 0);
  const valid = await sign();
  assert.equal((await cached.verify(valid, pki.alice.thumbprint)).subject, 'alice');
  assert.equal(calls(), 3);
});

test('an entry never outlives the token: past exp the token is verified again and refused', async () => {
  const clock = { now: START_MS };
  const { inner, calls } = counted(clock);
  const cached = withVerificationCache(inner, { now: () => clock.now, maxAgeSeconds: 3600 });
  const token = await sign({ exp: START_MS / 1000 + 10 });
  await cached.verify(token, pki.alice.thumbprint);
  clock.now = START_MS + 9_000;
  await cached.verify(token, pki.alice.thumbprint);
  assert.equal(calls(), 1, 'still cached before exp');
  clock.now = START_MS + 10_000;
  await assert.rejects(cached.verify(token, pki.alice.thumbprint), { code: 'CB_TOKEN_EXPIRED' });
  assert.equal(calls(), 2);
  assert.equal(cached.size, 0, 'the expired entry is gone');
});

test('an entry lives at most maxAgeSeconds, then the token is verified again', async () => {
  const clock = { now: START_MS };
  const { inner, calls } = counted(clock);
  const cached = withVerificationCache(inner, { now: () => clock.now, maxAgeSeconds: 5 });
  const token = await sign();
  await cached.verify(token, pki.alice.thumbprint);
  clock.now += 4_999;
  await cached.verify(token, pki.alice.thumbprint);
  assert.equal(calls(), 1);
  clock.now += 1;
  await cached.verify(token, pki.alice.thumbprint);
  assert.equal(calls(), 2);
});

test('the cache is bounded: the least recently used entry is dropped first', async () => {
  const clock = { now: START_MS };
  const { inner, calls } = counted(clock);
  const cached = withVerificationCache(inner, { now: () => clock.now, maxEntries: 2 });
  const [a, b, c] = await Promise.all([sign({ jti: 'a' }), sign({ jti: 'b' }), sign({ jti: 'c' })]);
  await cached.verify(a as string, pki.alice.thumbprint);
  await cached.verify(b as string, pki.alice.thumbprint);
  await cached.verify(a as string, pki.alice.thumbprint); // a is now the most recent
  await cached.verify(c as string, pki.alice.thumbprint); // evicts b
  assert.equal(cached.size, 2);
  assert.equal(calls(), 3);
  await cached.verify(a as string, pki.alice.thumbprint);
  assert.equal(calls(), 3, 'a stayed');
  await cached.verify(b as string, pki.alice.thumbprint);
  assert.equal(calls(), 4, 'b was evicted');
});

test('bad options are TypeErrors', () => {
  const { inner } = counted({ now: START_MS });
  assert.throws(() => withVerificationCache({} as BoundTokenVerifier), TypeError);
  assert.throws(() => withVerificationCache(inner, { maxEntries: 0 }), /maxEntries/);
  assert.throws(() => withVerificationCache(inner, { maxEntries: 1.5 }), /maxEntries/);
  assert.throws(() => withVerificationCache(inner, { maxAgeSeconds: 0 }), /maxAgeSeconds/);
  assert.throws(() => withVerificationCache(inner, { maxAgeSeconds: Number.NaN }), /maxAgeSeconds/);
});
