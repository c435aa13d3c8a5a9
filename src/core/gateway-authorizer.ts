import * as v from 'valibot';
import { authorizeByRules, matchAuthzRule, parseAuthzRule, parseDefaultAuthzRule, type AuthzRule } from './authz-rules.js';
import { parseBearerAuthorization } from './bearer.js';
import { misuse } from './config-error.js';
import { CertboundError, toCertboundError } from './errors.js';
import { callable, madeBy, nonEmpty, optionsObject, parseOptions } from './schema.js';
import type { BoundTokenVerifier, VerifiedToken } from './verify.js';

/** The headers the upstream is told who the caller is by. Every one is always sent (empty when unknown). */
export interface IdentityHeaderNames {
  subject: string;
  clientId: string;
  scope: string;
  thumbprint: string;
}

export const DEFAULT_IDENTITY_HEADERS: Readonly<IdentityHeaderNames> = Object.freeze({
  subject: 'x-certbound-subject',
  clientId: 'x-certbound-client-id',
  scope: 'x-certbound-scope',
  thumbprint: 'x-certbound-thumbprint',
});

/** What every gateway protocol (HTTP for nginx/Caddy/Traefik/Envoy, Envoy's gRPC Check) shares. */
export interface GatewayAuthorizerOptions {
  verifier: BoundTokenVerifier;
  /** `METHOD PREFIX [SCOPE ...] [aud=AUDIENCE ...]` rules (or parsed ones). */
  rules: ReadonlyArray<string | AuthzRule>;
  /** `[SCOPE ...] [aud=AUDIENCE ...]` for a request no rule matches; without it such a request is refused (403). */
  defaultRule?: string | AuthzRule;
  identityHeaders?: Partial<IdentityHeaderNames>;
  /** RFC 6750 §3 realm for challenges. */
  realm?: string;
  onEvent?: (event: AuthzEvent) => void;
}

/** Every decision, for logs: never the token. */
export type AuthzEvent = (
  | { type: 'authz.allowed'; method: string; path: string; token: VerifiedToken }
  | { type: 'authz.refused'; method: string; path: string; error: CertboundError }
) & {
  /** The request's id, when the adapter gave one. */
  requestId?: string;
};

/** The request a proxy asks about, as each protocol adapter read it. */
export interface GatewayRequest {
  method: string;
  /** The original request target: path and query. */
  target: string;
  /** The Authorization header values (undefined when none). */
  authorization: string | readonly string[] | undefined;
  /** x5t#S256 of the client certificate the proxy verified (undefined when none). */
  thumbprint: string | undefined;
  /** The request's id, reported with its event. */
  requestId?: string;
}

export interface GatewayAuthorizer {
  /**
   * Verify the bound token against the certificate, apply the rules, and give the identity
   * headers for the upstream. Reports `authz.allowed`.
   * @throws CertboundError for every refusal.
   */
  authorize(request: GatewayRequest): Promise<{ token: VerifiedToken; headers: Record<string, string> }>;
  /** A refusal of `method target` (any thrown value): reported as `authz.refused`, with the challenge parameters. */
  refuse(
    error: unknown,
    method: string,
    target: string,
    requestId?: string,
  ): { error: CertboundError; challenge: { realm?: string; scope?: string } };
}

const headerName = v.pipe(v.string('must be a header name'), v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a header name'));
const rule = v.union([v.string(), v.custom<AuthzRule>((value) => typeof value === 'object' && value !== null)], 'must be a rule');

const OPTIONS = optionsObject(
  {
    verifier: madeBy<BoundTokenVerifier>('verify', 'must come from createBoundTokenVerifier()'),
    rules: v.array(rule, 'must be a list of rules'),
    defaultRule: v.optional(rule),
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
  // The protocol adapters' own options.
  { others: ['trustedProxy'] },
);

/**
 * The gateway's decision, one for every protocol: bound token against the proxy-verified
 * certificate, then the rules (longest prefix; no match is 403 unless there is a default rule).
 * @throws ConfigError for bad options (a rule that does not parse names itself).
 */
export function createGatewayAuthorizer(options: GatewayAuthorizerOptions): GatewayAuthorizer {
  const { verifier, rules: given, defaultRule, identityHeaders, realm, onEvent } = parseOptions(OPTIONS, options);
  const rules = given.map((each) => (typeof each === 'string' ? parseAuthzRule(each) : each));
  const fallback = typeof defaultRule === 'string' ? parseDefaultAuthzRule(defaultRule) : defaultRule;
  if (rules.length === 0 && fallback === undefined) throw misuse('"rules" must give at least one rule (or give "defaultRule")');
  // The parsed object names every key; an unset one keeps its default.
  const renamed = Object.entries(identityHeaders ?? {}).filter(([, name]) => name !== undefined);
  const names: IdentityHeaderNames = { ...DEFAULT_IDENTITY_HEADERS, ...Object.fromEntries(renamed) };
  if (new Set(Object.values(names).map((name) => name.toLowerCase())).size !== 4)
    throw misuse('identityHeaders must name four different headers');
  return {
    async authorize({ method, target, authorization, thumbprint, requestId }) {
      const token = await verifier.verify(parseBearerAuthorization(authorization), thumbprint);
      authorizeByRules(rules, method, target, token, fallback);
      const headers = identityOf(token, names);
      onEvent?.({ type: 'authz.allowed', method, path: pathOf(target), token, ...(requestId === undefined ? {} : { requestId }) });
      return { token, headers };
    },
    refuse(thrown, method, target, requestId) {
      const error = toCertboundError(thrown);
      onEvent?.({ type: 'authz.refused', method, path: pathOf(target), error, ...(requestId === undefined ? {} : { requestId }) });
      const scope = error.code === 'CB_SCOPE_INSUFFICIENT' ? matchAuthzRule(rules, method, target, fallback)?.scopes.join(' ') : undefined;
      return { error, challenge: { ...(realm === undefined ? {} : { realm }), ...(scope === undefined ? {} : { scope }) } };
    },
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
