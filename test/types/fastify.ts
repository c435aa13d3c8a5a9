// certbound/fastify: the plugin's options, and the request decoration and route config it
// declares on Fastify's types (module augmentation, present once certbound/fastify is imported).
import fastify, { type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import type { BoundTokenVerifier, CertboundError, VerifiedToken } from 'certbound';
import { certboundFastify, type FastifyCertboundOptions } from 'certbound/fastify';
import { expectType, type Equal } from './assert.js';

declare const verifier: BoundTokenVerifier;

expectType<Equal<typeof certboundFastify, FastifyPluginAsync<FastifyCertboundOptions>>>();

const app = fastify({ https: { key: '', cert: '', ca: '', requestCert: true, rejectUnauthorized: false } });
await app.register(certboundFastify, {
  verifier,
  requiredScopes: ['read'],
  realm: 'api',
  trustedProxy: { addresses: ['10.0.0.0/8'], format: 'rfc9440' },
  onEvent: (event) => {
    expectType<Equal<typeof event.request, FastifyRequest>>();
    if (event.type === 'request.refused') expectType<Equal<typeof event.error, CertboundError>>();
  },
});

// request.certbound: the verified token, or undefined on routes that opted out.
app.get('/orders', async (request) => {
  expectType<Equal<typeof request.certbound, VerifiedToken | undefined>>();
  return { subject: request.certbound?.subject, scopes: request.certbound?.scopes };
});
app.get('/healthz', { config: { certbound: false } }, async () => 'ok');
app.post('/orders', { config: { certbound: { requiredScopes: ['write'] } } }, async (request) => request.certbound?.clientId ?? null);
// In a child context too (the plugin is not encapsulated), and in hooks.
await app.register(async (child) => {
  child.get('/child', async (request) => request.certbound?.thumbprint);
  child.addHook('preHandler', async (request) => {
    expectType<Equal<typeof request.certbound, VerifiedToken | undefined>>();
  });
});

// On HTTP/2 as well: the decoration is on every FastifyRequest, whatever the raw server.
const h2 = fastify({ http2: true, https: { key: '', cert: '', allowHTTP1: true } });
await h2.register(certboundFastify, { verifier });
h2.get('/orders', async (request) => {
  expectType<Equal<typeof request.certbound, VerifiedToken | undefined>>();
  return request.certbound?.subject;
});

// The route config as the plugin reads it.
app.addHook('onRequest', async (request) => {
  expectType<Equal<typeof request.routeOptions.config.certbound, false | { requiredScopes?: readonly string[] } | undefined>>();
});
// Fastify infers each route's config type from the object given (and intersects it with the
// declared one), so a misspelt key or `certbound: true` type-checks; the plugin refuses those with
// a TypeError when the route is added. A key of the wrong type does not type-check:
// @ts-expect-error route scopes are a list
app.get('/c', { config: { certbound: { requiredScopes: 'write' } } }, async () => 'c');
// @ts-expect-error the decoration is a VerifiedToken, not a string
app.get('/d', async (request) => request.certbound?.subject.toFixed());

// Plugin options are checked by register's types.
// @ts-expect-error `verifier` is required
await app.register(certboundFastify, { requiredScopes: ['read'] });
await app.register(certboundFastify, {
  verifier,
  // @ts-expect-error `requiredScope` is a typo of requiredScopes
  requiredScope: ['read'],
});
await app.register(certboundFastify, {
  verifier,
  // @ts-expect-error proxy formats are a closed set
  trustedProxy: { addresses: ['10.0.0.1'], format: 'x-client-cert' },
});
const options: FastifyCertboundOptions = { verifier, requireTrustedCertificate: true };
void options;
