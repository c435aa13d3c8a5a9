import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { createBoundFetch } from '../../src/client/bound-fetch.js';
import { createMtlsAgent } from '../../src/client/mtls-agent.js';
import { createTokenSource } from '../../src/client/token-source.js';
import { CertboundError } from '../../src/core/errors.js';
import { createSigningKey } from '../../src/core/signing/signer.js';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import { createResourceServer } from '../../src/cli/servers/resource-server.js';
import { loadJwksSource } from '../../src/keys/jwks-source.js';
import { steppedClock } from '../helpers/clock.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { ALICE_SECRET, AUDIENCE, ISSUER, startSts, type RunningSts } from '../helpers/servers.js';

let pki: TestPki;
let sts: RunningSts;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  pki = await createTestPki();
  sts = await startSts(suite, pki);
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const issuedCount = (): number => sts.events.filter((event) => event.type === 'token.issued').length;

function aliceSource(t: { after(fn: () => unknown): void }, extra: Partial<Parameters<typeof createTokenSource>[0]> = {}) {
  const source = createTokenSource({
    stsUrl: sts.url,
    tls: { ca: pki.ca.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem },
    subjectToken: ALICE_SECRET,
    audience: AUDIENCE,
    scope: ['read'],
    ...extra,
  });
  t.after(() => source.close());
  return source;
}

describe('token source (RFC 8693 client over mTLS)', () => {
  test('exchanges once, caches, and binds the token to its certificate', async (t) => {
    const source = aliceSource(t);
    const before = issuedCount();
    const first = await source.getTokenResponse();
    const second = await source.getToken();
    assert.equal(second, first.accessToken);
    assert.equal(issuedCount() - before, 1);
    assert.equal(first.expiresIn, 3600);
    assert.equal(first.scope, 'read');
    assert.deepEqual(decodeJwt(first.accessToken).cnf, { 'x5t#S256': pki.alice.thumbprint });
  });

  test('many concurrent callers share one exchange', async (t) => {
    const source = aliceSource(t);
    const before = issuedCount();
    const tokens = await Promise.all(Array.from({ length: 25 }, () => source.getToken()));
    assert.equal(new Set(tokens).size, 1);
    assert.equal(issuedCount() - before, 1);
  });

  test('refreshes before expiry (inside the refresh window), not before', async (t) => {
    let now = Date.now();
    const source = aliceSource(t, { now: () => now, refreshWindowSeconds: 60 });
    const before = issuedCount();
    const first = await source.getToken();
    now += (3600 - 61) * 1000; // 61 s left: still fresh
    assert.equal(await source.getToken(), first);
    assert.equal(issuedCount() - before, 1);
    now += 2000; // 59 s left: inside the window
    const second = await source.getToken();
    assert.notEqual(second, first);
    assert.equal(issuedCount() - before, 2);
  });

  test('a subject-token callback is asked for each exchange', async (t) => {
    let asked = 0;
    const source = aliceSource(t, {
      subjectToken: () => {
        asked++;
        return ALICE_SECRET;
      },
    });
    await source.getToken();
    source.invalidate();
    await source.getToken();
    assert.equal(asked, 2);
  });

  test('an STS refusal rejects with CB_STS_REFUSED carrying the OAuth error, and is not cached', async (t) => {
    const source = createTokenSource({
      stsUrl: sts.url,
      tls: { ca: pki.ca.certPem, cert: pki.bob.certPem, key: pki.bob.keyPem },
      subjectToken: ALICE_SECRET,
      audience: AUDIENCE,
    });
    t.after(() => source.close());
    for (let attempt = 0; attempt < 2; attempt++) {
      await assert.rejects(source.getToken(), (error: unknown) => {
        assert.ok(error instanceof CertboundError);
        assert.equal(error.code, 'CB_STS_REFUSED');
        assert.equal(error.remoteError, 'invalid_request');
        assert.match(error.description, /invalid_request: subject_token was not issued to this client certificate/);
        return true;
      });
    }
  });

  test('an unreachable STS rejects with CB_STS_UNAVAILABLE, never hangs', async (t) => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    // A refused connection is retried (twice by default): the backoff runs on an injected clock.
    const clock = steppedClock();
    const source = aliceSource(t, { stsUrl: `https://127.0.0.1:${port}`, timeoutMs: 2000, now: clock.now, sleep: clock.sleep });
    await assert.rejects(source.getToken(), { code: 'CB_STS_UNAVAILABLE' });
    assert.equal(clock.slept.length, 2, `waits ${clock.slept.join(', ')}`);
  });

  test('an STS whose certificate is not from the trusted CA is refused by the client', async (t) => {
    const source = createTokenSource({
      stsUrl: sts.url,
      tls: { ca: pki.otherCa.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem },
      subjectToken: ALICE_SECRET,
      audience: AUDIENCE,
    });
    t.after(() => source.close());
    await assert.rejects(
      source.getToken(),
      (error: unknown) =>
        error instanceof CertboundError &&
        error.code === 'CB_STS_UNAVAILABLE' &&
        /self-signed|unable to verify|certificate/i.test(error.detail ?? ''),
    );
  });

  test('misuse is a TypeError at construction', () => {
    const tls = { cert: pki.alice.certPem, key: pki.alice.keyPem };
    assert.throws(() => createTokenSource({ stsUrl: 'http://sts', tls, subjectToken: 'x' }), { name: 'TypeError', message: /https/ });
    assert.throws(() => createTokenSource({ stsUrl: sts.url, subjectToken: 'x' }), { name: 'TypeError', message: /tls/ });
    assert.throws(() => createTokenSource({ stsUrl: sts.url, tls, subjectToken: '' }), { name: 'TypeError', message: /subjectToken/ });
  });
});

describe('bound fetch and a JWKS fetched from the STS', () => {
  test('createBoundFetch calls the resource with the same certificate; the resource fetches keys by URL', async (t) => {
    const keys = await loadJwksSource(`${sts.url}/.well-known/jwks.json`, { ca: pki.ca.certPem });
    const verifier = createBoundTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE });
    const resource = createResourceServer({ tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem }, verifier });
    const url = await resource.listen(0, '127.0.0.1');
    t.after(() => resource.close());
    const agent = createMtlsAgent({ ca: pki.ca.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem });
    t.after(() => agent.close());
    const boundFetch = createBoundFetch({ tokenSource: aliceSource(t, { agent }), agent });
    const response = await boundFetch(`${url.origin}/`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { subject: string }).subject, 'alice');
  });

  test('bound fetch exchanges again and retries once when the resource answers invalid_token', async (t) => {
    // An STS whose first token is already expired (its clock is an hour behind once).
    let firstIssue = true;
    const skewed = await startSts(t, pki, {
      now: () => {
        const now = firstIssue ? Date.now() - 2 * 3600_000 : Date.now();
        firstIssue = false;
        return now;
      },
    });
    const verifier = createBoundTokenVerifier({ keys: { keys: [skewed.signingKey.publicJwk] }, issuer: ISSUER, audience: AUDIENCE });
    const resource = createResourceServer({ tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem }, verifier });
    const url = await resource.listen(0, '127.0.0.1');
    t.after(() => resource.close());
    const agent = createMtlsAgent({ ca: pki.ca.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem });
    t.after(() => agent.close());
    const boundFetch = createBoundFetch({ tokenSource: aliceSource(t, { agent, stsUrl: skewed.url }), agent });
    const response = await boundFetch(`${url.origin}/`);
    assert.equal(response.status, 200);
    assert.equal(skewed.events.filter((event) => event.type === 'token.issued').length, 2, 'one exchange, one retry exchange');
  });

  test('bound fetch retries at most once: a token the resource keeps refusing comes back as 401', async (t) => {
    const verifier = createBoundTokenVerifier({
      keys: { keys: [sts.signingKey.publicJwk] },
      issuer: ISSUER,
      audience: 'https://not-this-audience.example',
    });
    const resource = createResourceServer({ tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem }, verifier });
    const url = await resource.listen(0, '127.0.0.1');
    t.after(() => resource.close());
    const agent = createMtlsAgent({ ca: pki.ca.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem });
    t.after(() => agent.close());
    const before = issuedCount();
    const response = await createBoundFetch({ tokenSource: aliceSource(t, { agent }), agent })(`${url.origin}/`);
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /invalid_token/);
    await response.body?.cancel();
    assert.equal(issuedCount() - before, 2);
  });

  test('an unknown kid makes the verifier re-fetch the JWKS (key rotation)', async (t) => {
    const second = await createSigningKey({ privateKey: (await createTestPki()).jwtKeyPem });
    let published = { keys: [sts.signingKey.publicJwk] };
    let fetches = 0;
    const jwksServer = createServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(published));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => jwksServer.close(() => resolve())));
    const keys = await loadJwksSource(`https://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`, {
      ca: pki.ca.certPem,
      cooldownMs: 0,
    });
    const verifier = createBoundTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE });

    const rotated = await startSts(t, pki, { signingKey: second });
    const oldToken = await aliceSource(t).getToken();
    const newToken = await aliceSource(t, { stsUrl: rotated.url }).getToken();
    assert.equal((await verifier.verify(oldToken, pki.alice.thumbprint)).subject, 'alice');
    assert.equal(fetches, 1);
    await assert.rejects(verifier.verify(newToken, pki.alice.thumbprint), { code: 'CB_TOKEN_KEY_UNKNOWN' });
    published = { keys: [sts.signingKey.publicJwk, second.publicJwk] };
    assert.equal((await verifier.verify(newToken, pki.alice.thumbprint)).subject, 'alice');
    assert.ok(fetches >= 2);
  });

  test("an unreachable JWKS URL is CB_JWKS_UNAVAILABLE (503), not the client's fault", async (t) => {
    const keys = await loadJwksSource('https://127.0.0.1:1/jwks', { ca: pki.ca.certPem });
    const verifier = createBoundTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE });
    const token = await aliceSource(t).getToken();
    await assert.rejects(verifier.verify(token, pki.alice.thumbprint), { code: 'CB_JWKS_UNAVAILABLE' });
  });

  test('JWKS over plain http is refused; a JWKS file with a private key is refused', async () => {
    await assert.rejects(loadJwksSource('http://sts.domain.com/jwks.json'), /must use https/);
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    // eslint-disable-next-line @typescript-eslint/unbound-method -- @types/node declares path.join a method; it uses no `this`
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'certbound-jwks-'));
    try {
      const { exportJWK } = await import('jose');
      const file = join(dir, 'private.json');
      await writeFile(file, JSON.stringify({ keys: [await exportJWK(sts.signingKey.privateKey)] }));
      await assert.rejects(loadJwksSource(file), /contains a private key/);
      const symmetric = join(dir, 'symmetric.json');
      await writeFile(symmetric, JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'hs' }] }));
      await assert.rejects(loadJwksSource(symmetric), /contains a symmetric key/);
      await assert.rejects(loadJwksSource(join(dir, 'missing.json')), /missing\.json: JWKS file: no such file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
