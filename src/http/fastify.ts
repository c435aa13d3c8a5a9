import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { toCertboundError } from '../core/errors.js';
import { requireScopes, type VerifiedToken } from '../core/verify.js';
import {
  authenticateRequest,
  challengeFor,
  checkAdapterOptions,
  resolveRequestAuthentication,
  type ProtectOptions,
} from './authenticate.js';
import { bearerChallenge } from '../server/respond.js';
import { ConfigError } from '../core/config-error.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified certificate-bound token; undefined on routes that opted out. */
    certbound: VerifiedToken | undefined;
  }
  interface FastifyContextConfig {
    /** `false`: this route needs no token. `{ requiredScopes }`: this route's scopes instead of the plugin's. */
    certbound?: false | { requiredScopes?: readonly string[] };
  }
}

export type FastifyCertboundOptions = ProtectOptions<FastifyRequest>;

/**
 * A Fastify plugin that admits a request only with a valid token bound to the client certificate
 * of its TLS connection (or the one a trusted proxy forwarded), on HTTP/1.1 and HTTP/2 alike.
 * It decorates `request.certbound` with the verified token; refusals are the same 401/400/403
 * challenges as every certbound adapter. Registered without encapsulation, it guards every route
 * of the instance; a route opts out with `config: { certbound: false }` or needs other scopes with
 * `config: { certbound: { requiredScopes } }`. A bad option is a ConfigError at registration, and a
 * bad route config one when the route is added (for routes added after the plugin).
 *
 * @example
 * // HTTP/2: fastify({ http2: true, https: { ... } }); the certificate comes from the session's socket.
 * const app = fastify({ https: { key, cert, ca, requestCert: true, rejectUnauthorized: false } });
 * await app.register(certboundFastify, { verifier });
 * app.get('/orders', async (request) => ({ subject: request.certbound?.subject }));
 * app.get('/orders/admin', { config: { certbound: { requiredScopes: ['admin'] } } }, async () => 'ok');
 * app.get('/healthz', { config: { certbound: false } }, async () => 'ok');
 */
export const certboundFastify: FastifyPluginAsync<FastifyCertboundOptions> = fastifyPlugin(certboundPlugin, {
  fastify: '5.x',
  name: 'certbound',
});

// Wrapped by fastify-plugin above, which marks it not to be encapsulated (the hooks and the
// decoration apply to the routes of the instance that registers it), names it for logs and
// `dependencies`, and has Fastify check at registration that it runs the major it was built for.
async function certboundPlugin(fastify: FastifyInstance, options: FastifyCertboundOptions): Promise<void> {
  // Declared first, as Fastify wants decorations to be (one object shape for every request).
  fastify.decorateRequest('certbound', undefined);
  // Scopes are checked here, per route, so the shared authentication runs without them.
  const { requiredScopes, onEvent, ...rest } = options;
  const resolved = resolveRequestAuthentication({ ...rest });
  checkAdapterOptions(options);
  const defaultScopes = resolveRequestScopes(options.verifier, requiredScopes, '"requiredScopes"');
  // A route's own config is checked when the route is added, so a typo fails at start-up.
  fastify.addHook('onRoute', (route) => {
    const config: unknown = route.config?.certbound;
    if (config === undefined || config === false) return;
    const where = `route ${String(route.method)} ${route.url}: "config.certbound`;
    if (config === null || typeof config !== 'object' || Object.keys(config).some((name) => name !== 'requiredScopes')) {
      throw new ConfigError('config.certbound', 'must be false or { requiredScopes }', `${where}" must be false or { requiredScopes }`);
    }
    resolveRequestScopes(options.verifier, (config as { requiredScopes?: readonly string[] }).requiredScopes, `${where}.requiredScopes"`);
  });
  fastify.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config?.certbound;
    if (config === false) return;
    const scopes = config?.requiredScopes ?? defaultScopes;
    try {
      const verified = await authenticateRequest(request.raw, resolved);
      if (scopes !== undefined) requireScopes(verified, scopes);
      request.certbound = verified;
      onEvent?.({ type: 'request.allowed', token: verified, request });
    } catch (error) {
      const failure = toCertboundError(error);
      onEvent?.({ type: 'request.refused', error: failure, request });
      const { status, headers, body } = bearerChallenge(
        failure,
        challengeFor(failure, { ...options, ...(scopes === undefined ? {} : { requiredScopes: scopes }) }),
      );
      return reply.code(status).headers(headers).send(body);
    }
  });
}

/** Validated scopes (the shared validator), with the option's path in the ConfigError. */
function resolveRequestScopes(
  verifier: ProtectOptions['verifier'],
  requiredScopes: readonly string[] | undefined,
  path: string,
): readonly string[] | undefined {
  if (requiredScopes === undefined) return undefined;
  try {
    return resolveRequestAuthentication({ verifier, requiredScopes }).requiredScopes;
  } catch (error) {
    if (error instanceof ConfigError && error.path === 'requiredScopes')
      throw new ConfigError(error.path, error.problem, `${path} ${error.problem}`, { cause: error });
    throw error;
  }
}
