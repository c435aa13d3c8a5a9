import type { IncomingMessage, ServerResponse } from 'node:http';
import * as v from 'valibot';
import { authorizeByRules, matchAuthzRule, parseAuthzRule, type AuthzRule } from '../core/authz-rules.js';
import { CertboundError, toCertboundError } from '../core/errors.js';
import { callable, madeBy, nonEmpty, optionsObject, parseOptions } from '../core/schema.js';
import type { BoundTokenVerifier, VerifiedToken } from '../core/verify.js';
import { sendBearerChallenge } from '../server/respond.js';
import { authenticateRequest, resolveRequestAuthentication } from './authenticate.js';
import type { TrustedProxyOptions } from './forwarded-certificate.js';

/** The headers the upstream is told who the caller is by. Every one is always sent (empty when unknown). */
export interface IdentityHeaderNames {
  subject: string;
  clientId: string;
  scope: string;
  thumbprint: string;
}

export const DEFAULT_IDENTITY_HEADERS: IdentityHeaderNames = {
  subject: 'x-certbound-subject',
  clientId: 'x-certbound-client-id',
  scope: 'x-certbound-scope',
  thumbprint: 'x-certbound-thumbprint',
};

export interface AuthzHandlerOptions {
  verifier: BoundTokenVerifier;
  /** The proxy: its address(es) and how it forwards the client certificate. Required: the certificate only ever comes from it. */
  trustedProxy: TrustedProxyOptions;
  /** `METHOD PREFIX [SCOPE ...]` rules (or parsed ones); a request no rule matches is refused (403). */
  rules: ReadonlyArray<string | AuthzRule>;
  identityHeaders?: Partial<IdentityHeaderNames>;
  /** RFC 6750 §3 realm for challenges. */
  realm?: string;
  onEvent?: (event: AuthzEvent) => void;
}

/** Every decision, for logs: never the token. */
export type AuthzEvent =
  | { type: 'authz.allowed'; method: string; path: string; token: VerifiedToken }
  | { type: 'authz.refused'; method: string; path: string; error: CertboundError };

const headerName = v.pipe(v.string('must be a header name'), v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a header name'));

const OPTIONS = optionsObject(
  {
    verifier: madeBy<BoundTokenVerifier>('verify', 'must come from createBoundTokenVerifier()'),
    trustedProxy: v.custom<TrustedProxyOptions>(
      (value) => typeof value === 'object' && value !== null,
      'must give the proxy: { addresses, format }',
    ),
    rules: v.pipe(
      v.array(v.union([v.string(), v.custom<AuthzRule>((rule) => typeof rule === 'object' && rule !== null)])),
      v.minLength(1, 'must give at least one rule'),
    ),
    identityHeaders: v.optional(
      optionsObject(
        {
          subject: v.optional(headerName),
          clientId: v.optional(headerName),
          scope: v.optional(headerName),
          thumbprint: v.optional(headerName),
        },
        'must be an object',
      ),
    ),
    realm: v.optional(nonEmpty()),
    onEvent: v.optional(callable<(event: AuthzEvent) => void>('must be a function')),
  },
  'authz options must be an object',
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
  const { verifier, trustedProxy, rules: given, identityHeaders, realm, onEvent } = parseOptions(OPTIONS, options);
  const rules = given.map((rule) => (typeof rule === 'string' ? parseAuthzRule(rule) : rule));
  const names = { ...DEFAULT_IDENTITY_HEADERS, ...identityHeaders };
  const authentication = resolveRequestAuthentication({ verifier, trustedProxy });
  return (req, res) => {
    let method = req.method ?? 'GET';
    let target = req.url ?? '/';
    void (async () => {
      ({ method, target } = originalRequest(req));
      const token = await authenticateRequest(req, authentication);
      authorizeByRules(rules, method, target, token);
      return { token, headers: identityOf(token, names) };
    })()
      .then(
        ({ token, headers }) => {
          onEvent?.({ type: 'authz.allowed', method, path: pathOf(target), token });
          res.writeHead(200, { ...headers, 'cache-control': 'no-store' });
          res.end();
        },
        (error: unknown) => {
          const failure = toCertboundError(error);
          onEvent?.({ type: 'authz.refused', method, path: pathOf(target), error: failure });
          const scope = failure.code === 'CB_SCOPE_INSUFFICIENT' ? matchAuthzRule(rules, method, target)?.scopes.join(' ') : undefined;
          sendBearerChallenge(res, failure, { ...(realm === undefined ? {} : { realm }), ...(scope === undefined ? {} : { scope }) });
        },
      )
      // A hook that throws must not turn into an allow, an unhandled rejection or a hang: 500.
      .catch((error: unknown) => {
        if (res.headersSent) res.destroy();
        else sendBearerChallenge(res, toCertboundError(error));
      });
  };
}

const pathOf = (target: string): string => target.split('?', 1)[0] ?? '';

/** Printable ASCII only: a claim that is not cannot be forwarded faithfully in a header. */
const HEADER_SAFE = /^[\x20-\x7E]*$/;

/** The identity headers for the upstream, every one present; a claim that cannot be a header value refuses the request. */
function identityOf(token: VerifiedToken, names: IdentityHeaderNames): Record<string, string> {
  const headers = {
    [names.subject]: token.subject,
    [names.clientId]: token.clientId ?? '',
    [names.scope]: token.scopes.join(' '),
    [names.thumbprint]: token.thumbprint,
  };
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_SAFE.test(value)) {
      throw new CertboundError('CB_TOKEN_CLAIM_INVALID', {
        description: `the token's claims cannot be forwarded as ${name} (not printable ASCII)`,
        reason: 'malformed',
      });
    }
  }
  return headers;
}

/**
 * The request the proxy is asking about: nginx's X-Original-Method/-URI (as the generated config
 * sets them), else Traefik's and Caddy's X-Forwarded-Method/-Uri. Both, one value each, or a
 * refusal (400). (Envoy's HTTP service, which sends the original request line instead, is not
 * taken yet.)
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
