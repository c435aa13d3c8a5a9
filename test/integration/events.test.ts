// One hook style: every resource adapter (node, Fastify, Express, gRPC) reports each admitted
// and refused request to `onEvent`, with the verified token or the CertboundError, and the
// request it was about. Real TLS on 127.0.0.1, real tokens from a real STS.
import assert from 'node:assert/strict';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import express from 'express';
import fastify from 'fastify';
import { request } from 'undici';
import { createSigningKey } from '../../src/core/signing/signer.js';
import { createBoundTokenVerifier, type BoundTokenVerifier } from '../../src/core/verify.js';
import type { CallEvent } from '../../src/grpc/server-interceptor.js';
import type { RequestEvent } from '../../src/http/authenticate.js';
import { createExpressMiddleware } from '../../src/http/express.js';
import { certboundFastify } from '../../src/http/fastify.js';
import { protect } from '../../src/http/node.js';
import { bearer, callUnary, channelCredentials, echoClient, startInterceptedServer } from '../helpers/grpc.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, AUDIENCE, exchangeRequest, ISSUER, postToken, startSts } from '../helpers/servers.js';

let pki: TestPki;
let verifier: BoundTokenVerifier;
let token: string;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  pki = await createTestPki();
  const key = await createSigningKey({ privateKey: pki.jwtKeyPem });
  const sts = await startSts(suite, pki, { signingKey: key });
  token = (await postToken(agentFor(suite, pki, pki.alice), sts.url, exchangeRequest())).body.access_token as string;
  verifier = createBoundTokenVerifier({ keys: { keys: [key.publicJwk] }, issuer: ISSUER, audience: AUDIENCE });
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const tls = () => ({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem, requestCert: true, rejectUnauthorized: false });

function listen(server: HttpsServer): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`https://127.0.0.1:${(server.address() as AddressInfo).port}/orders`));
    cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
  });
}

/** One request with alice's token, one without: the statuses. */
async function allowedThenRefused(url: string): Promise<number[]> {
  const agent = agentFor(suite, pki, pki.alice);
  const statuses: number[] = [];
  for (const headers of [{ authorization: `Bearer ${token}` }, {}]) {
    const answer = await request(url, { dispatcher: agent, headers });
    await answer.body.dump();
    statuses.push(answer.statusCode);
  }
  return statuses;
}

/** What every HTTP adapter must have reported for allowedThenRefused. */
function assertRequestEvents(events: RequestEvent<{ url?: string | undefined }>[]): void {
  assert.deepEqual(
    events.map((event) => event.type),
    ['request.allowed', 'request.refused'],
  );
  const [allowed, refused] = events;
  assert.ok(allowed?.type === 'request.allowed' && refused?.type === 'request.refused');
  assert.equal(allowed.token.subject, 'alice');
  assert.equal(allowed.token.thumbprint, pki.alice.thumbprint);
  assert.equal(refused.error.code, 'CB_TOKEN_MISSING');
  for (const event of events) assert.equal(event.request.url, '/orders');
}

test('node protect: onEvent gets request.allowed with the token and request.refused with the error', async () => {
  const events: RequestEvent[] = [];
  const url = await listen(
    createHttpsServer(
      tls(),
      protect((_req, res) => void res.end('ok'), { verifier, onEvent: (event) => events.push(event) }),
    ),
  );
  assert.deepEqual(await allowedThenRefused(url), [200, 401]);
  assertRequestEvents(events);
});

test('node protect: a handler that throws is request.failed, after request.allowed', async () => {
  const events: RequestEvent[] = [];
  const handler = protect(
    () => {
      throw new Error('boom');
    },
    { verifier, onEvent: (event) => events.push(event) },
  );
  const url = await listen(createHttpsServer(tls(), handler));
  const answer = await request(url, { dispatcher: agentFor(suite, pki, pki.alice), headers: { authorization: `Bearer ${token}` } });
  await answer.body.dump();
  assert.equal(answer.statusCode, 500);
  assert.deepEqual(
    events.map((event) => [event.type, 'error' in event ? event.error.code : event.token.subject]),
    [
      ['request.allowed', 'alice'],
      ['request.failed', 'CB_INTERNAL'],
    ],
  );
});

test('Express: onEvent gets the Express request', async () => {
  const events: RequestEvent<express.Request>[] = [];
  const app = express();
  app.get('/orders', createExpressMiddleware({ verifier, onEvent: (event) => events.push(event) }), (_req, res) => res.end('ok'));
  assert.deepEqual(await allowedThenRefused(await listen(createHttpsServer(tls(), app))), [200, 401]);
  assertRequestEvents(events);
  assert.equal(typeof events[0]?.request.get, 'function', 'an Express request');
});

test('Fastify: onEvent gets the Fastify request', async () => {
  const events: RequestEvent<{ url: string; routeOptions: unknown }>[] = [];
  const app = fastify({ https: tls() });
  await app.register(certboundFastify, { verifier, onEvent: (event) => events.push(event) });
  app.get('/orders', async () => 'ok');
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  assert.deepEqual(await allowedThenRefused(`https://127.0.0.1:${(app.server.address() as AddressInfo).port}/orders`), [200, 401]);
  assertRequestEvents(events);
  assert.ok(
    events.every((event) => event.request.routeOptions !== undefined),
    'a Fastify request',
  );
});

test('gRPC interceptor: onEvent gets call.allowed and call.refused with the method and peer', async () => {
  const events: CallEvent[] = [];
  const server = await startInterceptedServer(suite, pki, { verifier, onEvent: (event) => events.push(event) });
  const client = echoClient(suite, server.target, channelCredentials(pki, pki.alice));
  assert.equal((await callUnary(client, bearer(token))).code, 0);
  assert.equal((await callUnary(client, bearer())).code, 16);
  assert.deepEqual(
    events.map((event) => [event.type, event.method, 'error' in event ? event.error.code : event.token.subject]),
    [
      ['call.allowed', '/echo.EchoServer/SayHello', 'alice'],
      ['call.refused', '/echo.EchoServer/SayHello', 'CB_TOKEN_MISSING'],
    ],
  );
  for (const event of events) assert.match(event.peer, /127\.0\.0\.1|localhost|::1/);
});

test('gRPC interceptor: a call keeps a sane x-request-id, gets a new one otherwise, and hears it back', async () => {
  const events: CallEvent[] = [];
  const server = await startInterceptedServer(suite, pki, { verifier, onEvent: (event) => events.push(event) });
  const client = echoClient(suite, server.target, channelCredentials(pki, pki.alice));
  /** SayHello with `id` as x-request-id; the id the server answered (response metadata, or the refusal's). */
  const answeredId = (token: string | undefined, id: string): Promise<string> =>
    new Promise((resolve) => {
      const metadata = bearer(token);
      metadata.set('x-request-id', id);
      let heard = '';
      const call = client.SayHello({ name: 'ids' }, metadata, { deadline: Date.now() + 5000 }, (error) => {
        resolve(String(error === null ? heard : error.metadata.get('x-request-id')[0]));
      });
      call.on('metadata', (answer) => (heard = String(answer.get('x-request-id')[0])));
    });
  assert.equal(await answeredId(token, 'call-1'), 'call-1');
  assert.equal(await answeredId(undefined, 'call-2'), 'call-2');
  const made = await answeredId(token, 'not sane: spaces');
  assert.match(made, /^[0-9a-f-]{36}$/);
  assert.deepEqual(
    events.map((event) => [event.type, event.requestId]),
    [
      ['call.allowed', 'call-1'],
      ['call.refused', 'call-2'],
      ['call.allowed', made],
    ],
  );
});
