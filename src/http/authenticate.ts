import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { parseBearerAuthorization } from '../core/bearer.js';
import { CertboundError } from '../core/errors.js';
import { requireScopes, type BoundTokenVerifier, type VerifiedToken } from '../core/verify.js';
import { forwardedCertificateOf, resolveTrustedProxyOptions, type ResolvedTrustedProxy, type TrustedProxyOptions } from './forwarded-certificate.js';
import { peerCertificateOf } from '../server/peer-certificate.js';
import { type ChallengeOptions } from '../server/respond.js';
import { isScopeToken } from '../core/scope.js';

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

const resolvedOptions = new WeakMap<RequestAuthenticationOptions, ResolvedRequestAuthentication>();
const resolvedSet = new WeakSet<object>();

/** @throws TypeError naming the bad option. */
export function resolveRequestAuthentication(options: RequestAuthenticationOptions): ResolvedRequestAuthentication {
  const known = resolvedOptions.get(options);
  if (known !== undefined) return known;
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  if (typeof options.verifier?.verify !== 'function') throw new TypeError('"verifier" must come from createBoundTokenVerifier()');
  const requiredScopes = options.requiredScopes;
  if (requiredScopes !== undefined && (!Array.isArray(requiredScopes) || requiredScopes.some((scope) => !isScopeToken(scope)))) {
    throw new TypeError('"requiredScopes" must be a list of scope tokens');
  }
  const resolved = Object.freeze({
    verifier: options.verifier,
    requireTrustedCertificate: options.requireTrustedCertificate !== false,
    requiredScopes: requiredScopes === undefined ? undefined : Object.freeze([...requiredScopes]),
    trustedProxy: options.trustedProxy === undefined ? undefined : resolveTrustedProxyOptions(options.trustedProxy),
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
export async function authenticateRequest(req: NodeRequest, options: RequestAuthenticationOptions | ResolvedRequestAuthentication): Promise<VerifiedToken> {
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

export interface ProtectOptions extends RequestAuthenticationOptions {
  /** RFC 6750 §3 realm for challenges. */
  realm?: string;
  /** RFC 9728 §5.1: the URL of this resource's metadata, sent as `resource_metadata` in challenges. */
  resourceMetadataUrl?: string;
  /** Called with every refusal (no token in it), for logs. */
  onRefused?: (error: CertboundError, req: NodeRequest) => void;
}

/**
 * Check the challenge options when an adapter is built, so that a bad value is a TypeError at
 * start-up rather than a 500 at the first refusal.
 * @throws TypeError naming the bad option.
 */
export function checkChallengeOptions(options: Pick<ProtectOptions, 'realm' | 'resourceMetadataUrl'>): void {
  if (options.realm !== undefined && (typeof options.realm !== 'string' || options.realm.length === 0)) throw new TypeError('"realm" must be a non-empty string');
  const url = options.resourceMetadataUrl;
  if (url !== undefined && (typeof url !== 'string' || !URL.canParse(url) || !url.startsWith('https://'))) {
    throw new TypeError('"resourceMetadataUrl" must be an https URL (RFC 9728 §5.1)');
  }
}

/** The challenge parameters for a refusal, the same in every adapter. */
export function challengeFor(error: CertboundError, options: Pick<ProtectOptions, 'realm' | 'resourceMetadataUrl' | 'requiredScopes'>): ChallengeOptions {
  return {
    ...(options.realm === undefined ? {} : { realm: options.realm }),
    ...(error.code === 'CB_SCOPE_INSUFFICIENT' && options.requiredScopes !== undefined ? { scope: options.requiredScopes.join(' ') } : {}),
    ...(options.resourceMetadataUrl === undefined ? {} : { resourceMetadata: options.resourceMetadataUrl }),
  };
}

