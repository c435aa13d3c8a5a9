// Adapter parity: one scenario table, run against every way certbound guards an HTTP API —
// node:https and node:http2 (protect), Fastify over HTTP/1.1 and HTTP/2, Express over HTTPS
// (Express 5 does not run on node:http2: it swaps the request's prototype for node:http's).
// Real TLS on 127.0.0.1, real tokens from a real STS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import express from 'express';
import fastify, { type FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { Agent, request } from 'undici';
import { buildAccessTokenClaims } from '../../src/core/claims.js';
import { createSigningKey, type SigningKey } from '../../src/core/signing/signer.js';
import { createBoundTokenVerifier, type BoundTokenVerifier } from '../../src/core/verify.js';
import { createExpressMiddleware } from '../../src/http/express.js';
import { certboundFastify } from '../../src/http/fastify.js';
import { protect } from '../../src/http/node.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, AUDIENCE, exchangeRequest, ISSUER, postToken, startSts } from '../helpers/servers.js';

const METADATA = 'https://server.domain.com:8443/.well-known/oauth-protected-resource';

let pki: TestPki;
let key: SigningKey;
let verifier: BoundTokenVerifier;
let readToken: string;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  pki = await createTestPki();
  key = await createSigningKey({ privateKey: pki.jwtKeyPem });
  const sts = await startSts(suite, pki, { signingKey: key });
  readToken = (await postToken(agentFor(suite, pki, pki.alice), sts.url, exchangeRequest({ scope: 'read' }))).body.access_token as string;
  verifier = createBoundTokenVerifier({ keys: { keys: [key.publicJwk] }, issuer: ISSUER, audience: AUDIENCE });
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const tls = () => ({
  ca: pki.ca.certPem,
  cert: pki.server.certPem,
  key: pki.server.keyPem,
  requestCert: true,
  rejectUnauthorized: false,
  minVersion: 'TLSv1.2' as const,
});

/** A running guarded API: GET /read needs scope read, GET /write needs scope write. */
interface Api {
  name: string;
  h2: boolean;
  start(): Promise<{ url: string; handled: () => number }>;
}

function listenNode(server: ReturnType<typeof createHttpsServer> | ReturnType<typeof createSecureServer>): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`https://127.0.0.1:${(server.address() as AddressInfo).port}`));
    cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
  });
}

const common = { resourceMetadataUrl: METADATA };

const APIS: Api[] = [
  ...([false, true] as const).map((h2) => ({
    name: h2 ? 'node:http2 + protect' : 'node:https + protect',
    h2,
    async start() {
      let handled = 0;
      const guard = (scope: string) =>
        protect(
          (_req, res, auth) => {
            handled++;
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ subject: auth.subject }));
          },
          { verifier, requiredScopes: [scope], ...common },
        );
      const read = guard('read');
      const write = guard('write');
      const handler = (req: { url?: string | undefined }, res: unknown): void =>
        ((req.url ?? '').startsWith('/write') ? write : read)(req as never, res as never);
      const server = h2 ? createSecureServer(tls(), handler) : createHttpsServer(tls(), handler);
      return { url: await listenNode(server), handled: () => handled };
    },
  })),
  ...([false, true] as const).map((h2) => ({
    name: h2 ? 'Fastify over HTTP/2' : 'Fastify over HTTP/1.1',
    h2,
    async start() {
      let handled = 0;
      const app: FastifyInstance = (h2 ? fastify({ http2: true, https: tls() }) : fastify({ https: tls() })) as unknown as FastifyInstance;
      await app.register(certboundFastify, { verifier, requiredScopes: ['read'], ...common });
      app.get('/read', async (request) => {
        handled++;
        return { subject: request.certbound?.subject };
      });
      app.get('/write', { config: { certbound: { requiredScopes: ['write'] } } }, async (request) => {
        handled++;
        return { subject: request.certbound?.subject };
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      cleanups.push(() => app.close());
      return { url: `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`, handled: () => handled };
    },
  })),
  {
    name: 'Express over HTTPS',
    h2: false,
    async start() {
      let handled = 0;
      const app = express();
      app.get('/read', createExpressMiddleware({ verifier, requiredScopes: ['read'], ...common }), (req, res) => {
        handled++;
        res.json({ subject: req.certbound?.subject });
      });
      app.get('/write', createExpressMiddleware({ verifier, requiredScopes: ['write'], ...common }), (req, res) => {
        handled++;
        res.json({ subject: req.certbound?.subject });
      });
      return { url: await listenNode(createHttpsServer(tls(), app)), handled: () => handled };
    },
  },
];

interface Scenario {
  name: string;
  client: () => TestPki['alice'] | undefined;
  authorization: () => Promise<string | undefined>;
  path: string;
  status: number;
  /** The exact challenge, or a pattern for it. */
  challenge: string | RegExp | undefined;
}

async function craft(claims: Record<string, unknown> = {}): Promise<string> {
  const base = buildAccessTokenClaims({
    issuer: ISSUER,
    subject: 'alice',
    audience: [AUDIENCE],
    clientId: 'alice',
    scope: ['read'],
    thumbprint: pki.alice.thumbprint,
    lifetimeSeconds: 300,
    issuedAt: Math.floor(Date.now() / 1000),
  });
  return new SignJWT({ ...base, ...claims }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey);
}

const invalidToken = (description: string) =>
  `Bearer error="invalid_token", error_description="${description}", resource_metadata="${METADATA}"`;

const SCENARIOS: Scenario[] = [
  {
    name: 'allowed: alice with her bound token',
    client: () => pki.alice,
    authorization: async () => `Bearer ${readToken}`,
    path: '/read',
    status: 200,
    challenge: undefined,
  },
  {
    name: "wrong certificate: bob replays alice's token",
    client: () => pki.bob,
    authorization: async () => `Bearer ${readToken}`,
    path: '/read',
    status: 401,
    challenge: invalidToken('token is bound to a different client certificate'),
  },
  {
    name: 'no certificate',
    client: () => undefined,
    authorization: async () => `Bearer ${readToken}`,
    path: '/read',
    status: 401,
    challenge: invalidToken('a client certificate is required to use a certificate-bound token'),
  },
  {
    name: 'certificate from another CA',
    client: () => pki.stranger,
    authorization: async () => `Bearer ${await craft({ cnf: { 'x5t#S256': pki.stranger.thumbprint } })}`,
    path: '/read',
    status: 401,
    challenge: invalidToken('client certificate was not issued by a trusted CA or is not valid'),
  },
  {
    name: 'no token',
    client: () => pki.alice,
    authorization: async () => undefined,
    path: '/read',
    status: 401,
    challenge: `Bearer resource_metadata="${METADATA}"`,
  },
  {
    name: 'malformed Authorization',
    client: () => pki.alice,
    authorization: async () => 'Bearer a b',
    path: '/read',
    status: 400,
    challenge: `Bearer error="invalid_request", error_description="Authorization header is not 'Bearer <token>'", resource_metadata="${METADATA}"`,
  },
  {
    name: 'expired token',
    client: () => pki.alice,
    authorization: async () =>
      `Bearer ${await craft({ iat: Math.floor(Date.now() / 1000) - 900, exp: Math.floor(Date.now() / 1000) - 600 })}`,
    path: '/read',
    status: 401,
    challenge: invalidToken('token has expired'),
  },
  {
    name: 'insufficient scope',
    client: () => pki.alice,
    authorization: async () => `Bearer ${readToken}`,
    path: '/write',
    status: 403,
    challenge: `Bearer error="insufficient_scope", error_description="token lacks the required scope write", scope="write", resource_metadata="${METADATA}"`,
  },
];

for (const api of APIS) {
  describe(api.name, () => {
    let url: string;
    let handled: () => number;
    before(async () => {
      ({ url, handled } = await api.start());
    });

    for (const scenario of SCENARIOS) {
      test(scenario.name, async (t) => {
        const identity = scenario.client();
        const agent = new Agent({
          allowH2: api.h2,
          connect: { ca: pki.ca.certPem, ...(identity === undefined ? {} : { cert: identity.certPem, key: identity.keyPem }) },
        });
        t.after(() => agent.close());
        const authorization = await scenario.authorization();
        const before = handled();
        const response = await request(`${url}${scenario.path}`, {
          dispatcher: agent,
          headers: authorization === undefined ? {} : { authorization },
        });
        const body = (await response.body.json()) as Record<string, unknown>;
        assert.equal(response.statusCode, scenario.status, JSON.stringify(body));
        const challenge = response.headers['www-authenticate'];
        if (scenario.challenge === undefined) assert.equal(challenge, undefined);
        else if (typeof scenario.challenge === 'string') assert.equal(challenge, scenario.challenge);
        else assert.match(String(challenge), scenario.challenge);
        if (scenario.status === 200) {
          assert.deepEqual(body, { subject: 'alice' });
          assert.equal(handled(), before + 1);
        } else {
          assert.equal(handled(), before, 'the handler must not run');
          assert.equal(typeof body.error, 'string');
        }
      });
    }
  });
}

describe('adapter specifics', () => {
  test('Fastify: a route with config certbound: false needs no token; others still do', async () => {
    const app = fastify({ https: tls() });
    await app.register(certboundFastify, { verifier });
    app.get('/healthz', { config: { certbound: false } }, async (request) => ({
      ok: true,
      token: request.certbound === undefined ? 'none' : 'some',
    }));
    app.get('/api', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const base = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const agent = new Agent({ connect: { ca: pki.ca.certPem } });
    try {
      const open = await request(`${base}/healthz`, { dispatcher: agent });
      assert.equal(open.statusCode, 200);
      assert.deepEqual(await open.body.json(), { ok: true, token: 'none' });
      const closed = await request(`${base}/api`, { dispatcher: agent });
      await closed.body.dump();
      assert.equal(closed.statusCode, 401);
      assert.equal(closed.headers['www-authenticate'], 'Bearer');
    } finally {
      await agent.close();
    }
  });

  test('Fastify: routes in a child context are guarded too, and see request.certbound (no encapsulation)', async (t) => {
    const app = fastify({ https: tls() });
    t.after(() => app.close());
    await app.register(certboundFastify, { verifier, requiredScopes: ['read'] });
    await app.register(
      async (child) => {
        child.get('/child', async (request) => ({ subject: request.certbound?.subject }));
      },
      { prefix: '/v1' },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const agent = new Agent({ connect: { ca: pki.ca.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem } });
    t.after(() => agent.close());
    const allowed = await request(`${base}/v1/child`, { dispatcher: agent, headers: { authorization: `Bearer ${readToken}` } });
    assert.equal(allowed.statusCode, 200);
    assert.deepEqual(await allowed.body.json(), { subject: 'alice' });
    const refused = await request(`${base}/v1/child`, { dispatcher: agent });
    await refused.body.dump();
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.headers['www-authenticate'], 'Bearer');
  });

  test('Fastify: a bad route config is a TypeError when the route is added', async (t) => {
    const app = fastify();
    t.after(() => app.close());
    await app.register(certboundFastify, { verifier });
    assert.throws(() => app.get('/a', { config: { certbound: { requiredScopes: ['a b'] } } }, async () => 'a'), {
      name: 'TypeError',
      message: 'route GET /a: "config.certbound.requiredScopes" must be a list of scope tokens',
    });
    assert.throws(
      () => app.get('/b', { config: { certbound: { requiredScopes: 'write' as never } } }, async () => 'b'),
      /"config\.certbound\.requiredScopes" must be a list/,
    );
    assert.throws(() => app.get('/c', { config: { certbound: true as never } }, async () => 'c'), {
      name: 'TypeError',
      message: 'route GET /c: "config.certbound" must be false or { requiredScopes }',
    });
    assert.throws(
      () => app.get('/d', { config: { certbound: { scopes: ['write'] } as never } }, async () => 'd'),
      /must be false or \{ requiredScopes \}/,
    );
    // Routes in a child context are checked when the context loads.
    const nested = fastify();
    t.after(() => nested.close());
    void nested.register(certboundFastify, { verifier });
    void nested.register(async (child) => {
      child.post('/e', { config: { certbound: { requiredScopes: [''] } } }, async () => 'e');
    });
    await assert.rejects(
      async () => {
        await nested.ready();
      },
      { name: 'TypeError', message: 'route POST /e: "config.certbound.requiredScopes" must be a list of scope tokens' },
    );
  });

  test('Fastify: the plugin is named certbound, so other plugins can depend on it', async (t) => {
    const app = fastify();
    t.after(() => app.close());
    const dependent = Object.assign(async () => {}, {
      [Symbol.for('plugin-meta')]: { name: 'uses-certbound', dependencies: ['certbound'] },
    });
    await app.register(certboundFastify, { verifier });
    await app.register(dependent);
    await app.ready();
    assert.equal(app.hasRequestDecorator('certbound'), true);
  });

  test('Express: a failure while refusing reaches the error handler', async (t) => {
    const app = express();
    const middleware = createExpressMiddleware({
      verifier,
      onEvent: (event) => {
        if (event.type === 'request.refused') throw new Error('log sink down');
      },
    });
    let handled = 0;
    app.get('/read', middleware, (_req, res) => {
      handled++;
      res.end();
    });
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ caught: error.message });
    });
    const server = createHttpsServer(tls(), app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((done) => server.close(() => done())));
    const agent = new Agent({ connect: { ca: pki.ca.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem } });
    t.after(() => agent.close());
    const response = await request(`https://127.0.0.1:${(server.address() as AddressInfo).port}/read`, { dispatcher: agent });
    assert.equal(response.statusCode, 500);
    assert.deepEqual(await response.body.json(), { caught: 'log sink down' });
    assert.equal(handled, 0);
  });

  test('bad options are TypeErrors when the adapter is built', async () => {
    assert.throws(() => createExpressMiddleware({} as never), /"verifier"/);
    assert.throws(() => createExpressMiddleware({ verifier, requiredScopes: ['a b'] }), /"requiredScopes"/);
    assert.throws(
      () => protect(() => {}, { verifier, trustedProxy: { addresses: ['nope'], format: 'xfcc' } }),
      /is not an IP address, CIDR block or "unix"/,
    );
    const app = fastify();
    void app.register(certboundFastify, {} as never);
    await assert.rejects(async () => {
      await app.ready();
    }, /"verifier"/);
    await app.close();
    // Challenge options: checked up front, not at the first refusal (where they would be a 500).
    assert.throws(() => protect(() => {}, { verifier, realm: 42 as never }), /"realm" must be a non-empty string/);
    assert.throws(
      () => createExpressMiddleware({ verifier, resourceMetadataUrl: 'http://api.example/.well-known/oauth-protected-resource' }),
      /"resourceMetadataUrl" must be an https URL/,
    );
    const withRealm = fastify();
    void withRealm.register(certboundFastify, { verifier, realm: '' });
    await assert.rejects(async () => {
      await withRealm.ready();
    }, /"realm" must be a non-empty string/);
    await withRealm.close();
    assert.doesNotThrow(() =>
      protect(() => {}, { verifier, realm: 'api', resourceMetadataUrl: 'https://api.example/.well-known/oauth-protected-resource' }),
    );
  });
});
