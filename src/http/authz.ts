import type { IncomingMessage, ServerResponse } from 'node:http';
import * as v from 'valibot';
import { CertboundError, toCertboundError } from '../core/errors.js';
import { requestIdOf } from '../server/request-id.js';
import { createGatewayAuthorizer, type GatewayAuthorizerOptions } from '../core/gateway-authorizer.js';
import { optionsObject, parseOptions } from '../core/schema.js';
import { sendBearerChallenge } from '../server/respond.js';
import { clientThumbprintOf, resolveRequestAuthentication } from './authenticate.js';
import type { TrustedProxyOptions } from './forwarded-certificate.js';

export { DEFAULT_IDENTITY_HEADERS } from '../core/gateway-authorizer.js';
export type { AuthzEvent, IdentityHeaderNames } from '../core/gateway-authorizer.js';

export interface AuthzHandlerOptions extends GatewayAuthorizerOptions {
  /** The proxy: its address(es) and how it forwards the client certificate. Required: the certificate only ever comes from it. */
  trustedProxy: TrustedProxyOptions;
  /**
   * Envoy's HTTP ext_authz service, which asks with the original method and the original path
   * after its `path_prefix`: the request's own line, after this prefix, is the request judged,
   * and X-Original-* / X-Forwarded-* headers are not read. Without it those headers are required.
   */
  envoyPathPrefix?: string;
}

/** A plain absolute path: what Envoy's `path_prefix` may be here. */
export const ENVOY_PATH_PREFIX = /^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/;

const TRUSTED_PROXY = v.custom<TrustedProxyOptions>(
  (value) => typeof value === 'object' && value !== null,
  'must give the proxy: { addresses, format }',
);
const HTTP_OPTIONS = optionsObject(
  {
    trustedProxy: TRUSTED_PROXY,
    envoyPathPrefix: v.optional(v.pipe(v.string(), v.regex(ENVOY_PATH_PREFIX, 'must be a plain absolute path'))),
  },
  'authz options must be an object',
  { loose: true },
);

/**
 * The external authorization endpoint a proxy calls for every request (nginx `auth_request`,
 * Caddy `forward_auth`, Traefik `ForwardAuth`): the original method and
 * URI from the proxy's headers, the client certificate from the trusted proxy's header, the bound
 * token from `Authorization`. Answers 200 with the identity headers, or 401/403 with the RFC 6750
 * challenge for the proxy to pass back. Never allows on an error.
 * @throws ConfigError for bad options (a rule that does not parse names itself).
 */
export function createAuthzHandler(options: AuthzHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { trustedProxy, envoyPathPrefix } = parseOptions(HTTP_OPTIONS, options);
  const { envoyPathPrefix: _http, ...shared } = options;
  const authorizer = createGatewayAuthorizer(shared);
  const authentication = resolveRequestAuthentication({ verifier: options.verifier, trustedProxy });
  return (req, res) => {
    const requestId = requestIdOf(req);
    let method = req.method ?? 'GET';
    let target = req.url ?? '/';
    void (async () => {
      ({ method, target } = envoyPathPrefix === undefined ? originalRequest(req) : envoyRequest(req, envoyPathPrefix));
      refuseBody(req);
      const authorization = req.headersDistinct.authorization;
      const thumbprint = clientThumbprintOf(req, authentication);
      return authorizer.authorize({ method, target, authorization, thumbprint, ...(requestId === undefined ? {} : { requestId }) });
    })()
      .then(
        ({ headers }) => {
          res.writeHead(200, { ...headers, 'cache-control': 'no-store' });
          res.end();
        },
        (error: unknown) => {
          const refusal = authorizer.refuse(error, method, target, requestId);
          sendBearerChallenge(res, refusal.error, refusal.challenge);
        },
      )
      // A hook that throws must not turn into an allow, an unhandled rejection or a hang: 500.
      .catch((error: unknown) => {
        if (res.headersSent) res.destroy();
        else sendBearerChallenge(res, toCertboundError(error));
      });
  };
}

/**
 * The request the proxy is asking about: nginx's X-Original-Method/-URI (as the generated config
 * sets them), else Traefik's and Caddy's X-Forwarded-Method/-Uri. Both, one value each, or a
 * refusal (400).
 */
function originalRequest(req: IncomingMessage): { method: string; target: string } {
  const one = (name: string): string | undefined => {
    const values = req.headersDistinct[name];
    if (values === undefined) return undefined;
    if (values.length > 1)
      throw new CertboundError('CB_AUTHORIZATION_MALFORMED', { description: `more than one ${name} header`, reason: 'malformed' });
    return values[0];
  };
  const method = one('x-original-method') ?? one('x-forwarded-method');
  const target = one('x-original-uri') ?? one('x-forwarded-uri');
  // Without them the request being judged is unknown: judging the authz request itself (its own
  // path) would let a misconfigured proxy through on whatever rule covers that path.
  if (method === undefined || target === undefined) {
    throw new CertboundError('CB_AUTHORIZATION_MALFORMED', {
      description: 'the proxy sent no original method and URI (X-Original-Method/-URI or X-Forwarded-Method/-Uri)',
      reason: 'missing',
    });
  }
  return { method: method.toUpperCase(), target };
}

/**
 * A proxy asks without a body (nginx `proxy_pass_request_body off`, Caddy and Traefik send none,
 * Envoy unless `with_request_body`): one that comes is a misconfiguration or a smuggling attempt.
 */
function refuseBody(req: IncomingMessage): void {
  const length = req.headers['content-length'];
  if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) {
    throw new CertboundError('CB_AUTHORIZATION_MALFORMED', {
      description: 'the authorization request carries a body (the proxy must not forward it)',
      reason: 'malformed',
    });
  }
}

/** Envoy's HTTP service: its own method, and its path after the configured prefix (else 400: not asked by Envoy). */
function envoyRequest(req: IncomingMessage, prefix: string): { method: string; target: string } {
  const target = req.url ?? '';
  const rest = prefix.endsWith('/') ? target.slice(prefix.length - 1) : target.slice(prefix.length);
  if (!target.startsWith(prefix) || !rest.startsWith('/')) {
    throw new CertboundError('CB_AUTHORIZATION_MALFORMED', {
      description: `the request is not under the Envoy path prefix ${prefix}`,
      reason: 'malformed',
    });
  }
  return { method: (req.method ?? '').toUpperCase(), target: rest };
}
