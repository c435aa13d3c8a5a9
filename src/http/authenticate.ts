import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { parseBearerAuthorization } from '../core/bearer.js';
import { CertboundError } from '../core/errors.js';
import { requireScopes, type BoundTokenVerifier, type VerifiedToken } from '../core/verify.js';
import {
  forwardedCertificateOf,
  resolveTrustedProxyOptions,
  type ResolvedTrustedProxy,
  type TrustedProxyOptions,
} from './forwarded-certificate.js';
import { peerCertificateOf } from '../server/peer-certificate.js';
import { type ChallengeOptions } from '../server/respond.js';
import * as v from 'valibot';
import { callable, httpsUrl, madeBy, nonEmpty, optionsObject, parseOptions, scopeTokens } from '../core/schema.js';

/** A request from node:http(s) or node:http2 (compatibility API). */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
export type NodeResponse = ServerResponse | Http2ServerResponse;

export interface RequestAuthenticationOptions {
  verifier: BoundTokenVerifier;
  /**
   * Require the TLS layer to have verified the client certificate against the server's CA
   * (default true). The binding alone proves possession of the key; the CA check also refuses
   * certificates from anyone else.
   */
  requireTrustedCertificate?: boolean;
  /** Scopes the token must carry; otherwise 403 insufficient_scope (RFC 6750 §3.1). */
  requiredScopes?: readonly string[];
  /**
   * TLS is terminated by a proxy that forwards the client certificate in a header. Only requests
   * whose TCP peer is a listed proxy may carry it; from anyone else the header is refused.
   */
  trustedProxy?: TrustedProxyOptions;
}

/** Options checked once: adapters resolve at construction, so a bad option fails at start-up. */
export interface ResolvedRequestAuthentication {
  verifier: BoundTokenVerifier;
  requireTrustedCertificate: boolean;
  requiredScopes: readonly string[] | undefined;
  trustedProxy: ResolvedTrustedProxy | undefined;
}

const REQUEST_AUTHENTICATION_OPTIONS = optionsObject(
  {
    verifier: madeBy<BoundTokenVerifier>('verify', 'must come from createBoundTokenVerifier()'),
    requireTrustedCertificate: v.optional(v.boolean('must be true or false'), true),
    requiredScopes: v.optional(scopeTokens()),
    trustedProxy: v.optional(v.custom<TrustedProxyOptions>(() => true)),
  },
  'options must be an object',
  // The adapters' own options, checked by checkAdapterOptions.
  { others: ['realm', 'resourceMetadataUrl', 'onEvent'] },
);

const ADAPTER_OPTIONS = optionsObject(
  {
    realm: v.optional(nonEmpty()),
    resourceMetadataUrl: v.optional(httpsUrl('must be an https URL (RFC 9728 §5.1)')),
    onEvent: v.optional(callable('must be a function')),
  },
  'options must be an object',
  { loose: true },
);

const resolvedOptions = new WeakMap<RequestAuthenticationOptions, ResolvedRequestAuthentication>();
const resolvedSet = new WeakSet<object>();

/** @throws ConfigError naming the bad option. */
export function resolveRequestAuthentication(options: RequestAuthenticationOptions): ResolvedRequestAuthentication {
  const known = resolvedOptions.get(options);
  if (known !== undefined) return known;
  const { verifier, requireTrustedCertificate, requiredScopes, trustedProxy } = parseOptions(REQUEST_AUTHENTICATION_OPTIONS, options);
  const resolved = Object.freeze({
    verifier,
    requireTrustedCertificate,
    requiredScopes: requiredScopes === undefined ? undefined : Object.freeze([...requiredScopes]),
    trustedProxy: trustedProxy === undefined ? undefined : resolveTrustedProxyOptions(trustedProxy),
  });
  resolvedOptions.set(options, resolved);
  resolvedSet.add(resolved);
  return resolved;
}

/**
 * The x5t#S256 of the client certificate behind a request: forwarded by a trusted proxy, or from
 * the request's own TLS connection. Undefined when there is none.
 * @throws CertboundError for a forged or unreadable forwarded certificate, or an untrusted one.
 */
export function clientThumbprintOf(req: NodeRequest, options: ResolvedRequestAuthentication): string | undefined {
  if (options.trustedProxy !== undefined) {
    const forwarded = forwardedCertificateOf(req, options.trustedProxy);
    if (forwarded !== undefined) return forwarded.thumbprint;
  }
  const certificate = peerCertificateOf(req);
  if (certificate !== undefined && !certificate.authorized && options.requireTrustedCertificate) {
    throw new CertboundError('CB_CLIENT_CERT_UNTRUSTED', {
      description: 'client certificate was not issued by a trusted CA or is not valid',
      detail: `${certificate.authorizationError ?? 'unverified'} x5t#S256=${certificate.thumbprint}`,
      reason: 'not_allowed',
    });
  }
  return certificate?.thumbprint;
}

/**
 * Verify the bound access token on a request: the Bearer token from the Authorization header,
 * checked against the client certificate of this very TLS connection (or the one a trusted proxy
 * forwarded). Tokens in the query string or form body are never read: URLs end up in logs
 * (RFC 6750 §5.3). This is what every HTTP adapter (node, Fastify, Express) calls.
 * @throws CertboundError
 */
export async function authenticateRequest(
  req: NodeRequest,
  options: RequestAuthenticationOptions | ResolvedRequestAuthentication,
): Promise<VerifiedToken> {
  const resolved = isResolved(options) ? options : resolveRequestAuthentication(options);
  const authorization = 'headersDistinct' in req ? req.headersDistinct.authorization : req.headers.authorization;
  const token = parseBearerAuthorization(authorization);
  const verified = await resolved.verifier.verify(token, clientThumbprintOf(req, resolved));
  if (resolved.requiredScopes !== undefined) requireScopes(verified, resolved.requiredScopes);
  return verified;
}

function isResolved(options: RequestAuthenticationOptions | ResolvedRequestAuthentication): options is ResolvedRequestAuthentication {
  return resolvedSet.has(options);
}

/**
 * What an HTTP adapter tells `onEvent`, for logs and metrics: every request it admitted or
 * refused, and (node's `protect`) every handler that failed. Never the token itself.
 */
export type RequestEvent<Req = NodeRequest> =
  | { type: 'request.allowed'; token: VerifiedToken; request: Req }
  | { type: 'request.refused'; error: CertboundError; request: Req }
  | { type: 'request.failed'; error: CertboundError; request: Req };

export interface ProtectOptions<Req = NodeRequest> extends RequestAuthenticationOptions {
  /** RFC 6750 §3 realm for challenges. */
  realm?: string;
  /** RFC 9728 §5.1: the URL of this resource's metadata, sent as `resource_metadata` in challenges. */
  resourceMetadataUrl?: string;
  /** Called with every admitted and refused request; the one hook style of certbound. */
  onEvent?: (event: RequestEvent<Req>) => void;
}

/**
 * Check an adapter's own options (challenge parameters, hook) when it is built, so that a bad
 * value is a ConfigError at start-up rather than a 500 at the first refusal.
 * @throws ConfigError naming the bad option.
 */
export function checkAdapterOptions(options: Pick<ProtectOptions<never>, 'realm' | 'resourceMetadataUrl' | 'onEvent'>): void {
  parseOptions(ADAPTER_OPTIONS, options);
}

/** The challenge parameters for a refusal, the same in every adapter. */
export function challengeFor(
  error: CertboundError,
  options: Pick<ProtectOptions<never>, 'realm' | 'resourceMetadataUrl' | 'requiredScopes'>,
): ChallengeOptions {
  return {
    ...(options.realm === undefined ? {} : { realm: options.realm }),
    ...(error.code === 'CB_SCOPE_INSUFFICIENT' && options.requiredScopes !== undefined ? { scope: options.requiredScopes.join(' ') } : {}),
    ...(options.resourceMetadataUrl === undefined ? {} : { resourceMetadata: options.resourceMetadataUrl }),
  };
}
