import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { remoteJwksSource } from '../keys/jwks-source.js';
import { staticKeyProvider, type SigningKeyProvider } from '../keys/keystore.js';
import { CertboundError, toCertboundError } from '../core/errors.js';
import { introspectAccessToken } from '../core/introspection.js';
import { createRateLimiter, RATE_LIMIT_DEFAULTS, type RateLimiter, type RateLimitOptions } from '../core/rate-limit.js';
import { authenticateClient, requireTrustableCertificate } from '../core/client-authentication.js';
import type { ClientRegistration, Policy, TrustedIssuer } from '../core/policy/types.js';
import { HEALTH_PATH, INTROSPECTION_ENDPOINT_PATH, TOKEN_ENDPOINT_PATH, WELL_KNOWN_JWKS } from '../core/rfc.js';
import type { SigningKey } from '../core/signing/signer.js';
import { parseTokenRequest } from '../core/token-request.js';
import { readBody } from '../server/body.js';
import { createLimitedHttpsServer, type ManagedServer } from '../server/https-server.js';
import { type ServerLimits } from '../server/limits.js';
import { type ServerTlsOptions } from '../server/tls.js';
import { peerCertificateOf, type PeerCertificate } from '../server/peer-certificate.js';
import { sendJson, sendOAuthError, sendTokenResponse } from '../server/respond.js';
import type { IssuedToken } from './grants/grant.js';
import { buildMetadata, discoveryProblem, metadataPathsOf } from './discovery.js';
import { checkRegisteredGrantTypes, GRANTS } from './grants/index.js';

/** Defaults, each with its reason. */
export const STS_DEFAULTS = {
  /** RFC 9068 leaves it to the issuer; an hour bounds a stolen token's life without churn. */
  accessTokenLifetimeSeconds: 3600,
  /** A token request is a few hundred bytes; 16 KiB leaves room for long subject tokens. */
  bodyLimitBytes: 16 * 1024,
} as const;

/** Refusals of the subject token itself, whose OAuth error `subjectTokenError` chooses. */
const SUBJECT_TOKEN_CODES: ReadonlySet<string> = new Set([
  'CB_SUBJECT_TOKEN_INVALID',
  'CB_SUBJECT_TOKEN_NOT_FOR_CLIENT',
  'CB_SUBJECT_TOKEN_CNF_MISMATCH',
  'CB_SUBJECT_TOKEN_CNF_UNSUPPORTED',
  'CB_ACTOR_NOT_ALLOWED',
]);

/** Outcome of each token and introspection request, for logs and metrics. Never carries a token or secret. */
export type StsEvent =
  | { type: 'token.issued'; clientId: string; subject: string; jti: string; thumbprint: string; grantType: string }
  | { type: 'token.refused' | 'introspection.refused'; code: string; description: string; detail?: string; thumbprint?: string }
  | { type: 'server.error'; detail: string };

export interface StsOptions {
  /** The `iss` of issued tokens and the RFC 8414 issuer identifier. */
  issuer: string;
  /** One fixed signing key. Give this or `keys`. */
  signingKey?: SigningKey;
  /** Scheduled, rotating keys (e.g. openKeystore): who signs and what the JWKS publishes, by time. */
  keys?: SigningKeyProvider;
  policy: Policy;
  tls: ServerTlsOptions;
  /** Lifetime of issued tokens in seconds (default 3600). `expires_in` always equals it. */
  accessTokenLifetimeSeconds?: number;
  /**
   * Where clients reach this STS: the base URL of the endpoints in the metadata document (default:
   * the issuer). It must be the issuer's origin, where RFC 8414 clients look for the metadata,
   * unless `issuerMetadataElsewhere` says something else serves it there.
   */
  publicUrl?: string;
  /**
   * The issuer's origin is not `publicUrl`, and that is intended: a proxy at the issuer's origin
   * serves (or forwards) `/.well-known/oauth-authorization-server` (default false).
   */
  issuerMetadataElsewhere?: boolean;
  /** Largest accepted token request body in bytes (default 16 KiB). */
  bodyLimitBytes?: number;
  /**
   * The OAuth error for an invalid or refused subject token. RFC 8693 §2.2.2 says
   * `invalid_request` (the default); `invalid_grant` suits clients that, as RFC 6749 §5.2 teaches,
   * treat invalid_grant as "these credentials will not work, stop retrying".
   */
  subjectTokenError?: 'invalid_request' | 'invalid_grant';
  /**
   * Refuse token and introspection requests without `client_id` (RFC 8705 §2) with 401
   * invalid_client. Default false: a client is then found by its certificate alone.
   */
  requireClientId?: boolean;
  /**
   * Requests per client certificate on /token and /introspect (token bucket keyed by x5t#S256):
   * beyond it, 429 with Retry-After. Default 50/s with bursts of 100; `false` turns it off.
   */
  rateLimit?: RateLimitOptions | false;
  /** Timeouts, header size and the load-shedding threshold of the HTTPS server (createStsServer). */
  limits?: ServerLimits;
  /** Current time in milliseconds; injected so expiry is testable. */
  now?: () => number;
  onEvent?: (event: StsEvent) => void;
}

interface ResolvedStsOptions extends Required<Omit<StsOptions, 'onEvent' | 'tls' | 'signingKey' | 'rateLimit' | 'limits'>> {
  onEvent: (event: StsEvent) => void;
  /** The published keys as a resolver, rebuilt only when the set changes (keys imported once). */
  publishedKeySet: (now: number) => JWTVerifyGetKey;
  rateLimiter: RateLimiter | undefined;
  keysFor: (issuer: TrustedIssuer) => JWTVerifyGetKey;
  metadata: Record<string, unknown>;
  /** Request paths answered with the metadata document (RFC 8414 §3.1). */
  metadataPaths: ReadonlySet<string>;
}

function resolveStsOptions(options: StsOptions): ResolvedStsOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('STS options must be an object');
  if (typeof options.issuer !== 'string' || !URL.canParse(options.issuer) || !options.issuer.startsWith('https://')) {
    throw new TypeError('"issuer" must be an https URL (RFC 8414 §2)');
  }
  if ((options.signingKey === undefined) === (options.keys === undefined)) throw new TypeError('give exactly one of "signingKey" and "keys"');
  if (options.signingKey !== undefined && options.signingKey.privateKey === undefined) throw new TypeError('"signingKey" must come from createSigningKey()');
  if (options.keys !== undefined && typeof options.keys.signingKey !== 'function') throw new TypeError('"keys" must come from openKeystore() or staticKeyProvider()');
  if (!Array.isArray(options.policy?.clients)) throw new TypeError('"policy" must come from parsePolicy()');
  checkRegisteredGrantTypes(options.policy);
  const lifetime = options.accessTokenLifetimeSeconds ?? STS_DEFAULTS.accessTokenLifetimeSeconds;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > 86_400) {
    throw new TypeError('"accessTokenLifetimeSeconds" must be an integer from 1 to 86400');
  }
  const bodyLimit = options.bodyLimitBytes ?? STS_DEFAULTS.bodyLimitBytes;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1024) throw new TypeError('"bodyLimitBytes" must be an integer >= 1024');
  const subjectTokenError = options.subjectTokenError ?? 'invalid_request';
  if (subjectTokenError !== 'invalid_request' && subjectTokenError !== 'invalid_grant') {
    throw new TypeError('"subjectTokenError" must be "invalid_request" or "invalid_grant"');
  }
  const publicUrl = (options.publicUrl ?? options.issuer).replace(/\/+$/, '');
  if (!URL.canParse(publicUrl) || !publicUrl.startsWith('https://')) throw new TypeError('"publicUrl" must be an https URL');
  if (options.issuerMetadataElsewhere !== undefined && typeof options.issuerMetadataElsewhere !== 'boolean') throw new TypeError('"issuerMetadataElsewhere" must be true or false');
  const unreachable = options.issuerMetadataElsewhere === true ? undefined : discoveryProblem(options.issuer, publicUrl);
  if (unreachable !== undefined) throw new TypeError(`"publicUrl": ${unreachable}; make it the issuer's origin, or set "issuerMetadataElsewhere" when something there serves the metadata`);
  if (options.requireClientId !== undefined && typeof options.requireClientId !== 'boolean') throw new TypeError('"requireClientId" must be true or false');
  const resolved = {
    issuer: options.issuer,
    issuerMetadataElsewhere: options.issuerMetadataElsewhere ?? false,
    keys: options.keys ?? staticKeyProvider(options.signingKey as SigningKey),
    policy: options.policy,
    accessTokenLifetimeSeconds: lifetime,
    publicUrl,
    bodyLimitBytes: bodyLimit,
    subjectTokenError,
    requireClientId: options.requireClientId ?? false,
    now: options.now ?? Date.now,
    onEvent: options.onEvent ?? (() => {}),
    rateLimiter: options.rateLimit === false ? undefined : createRateLimiter(options.rateLimit ?? RATE_LIMIT_DEFAULTS),
  };
  return {
    ...resolved,
    publishedKeySet: publishedKeySetOf(resolved.keys),
    keysFor: issuerKeyResolver(resolved.policy),
    // Built once: these documents never change while the server runs.
    metadata: buildMetadata(resolved.issuer, publicUrl, resolved.policy, [...GRANTS.keys()]),
    metadataPaths: metadataPathsOf(resolved.issuer),
  };
}

function publishedKeySetOf(keys: SigningKeyProvider): (now: number) => JWTVerifyGetKey {
  let cached: { kids: string; resolver: JWTVerifyGetKey } | undefined;
  return (now) => {
    const published = keys.publishedKeys(now);
    const kids = published.map((key) => key.kid).join(' ');
    if (cached?.kids !== kids) cached = { kids, resolver: createLocalJWKSet({ keys: published } as JSONWebKeySet) };
    return cached.resolver;
  };
}

/**
 * Key resolvers for the trusted issuers of subject tokens, built once: inline key sets are local,
 * https URLs are fetched (with their CA), cached and re-fetched on an unknown kid by jose.
 */
function issuerKeyResolver(policy: Policy): (issuer: TrustedIssuer) => JWTVerifyGetKey {
  const resolvers = new Map<TrustedIssuer, JWTVerifyGetKey>();
  for (const issuer of policy.trustedIssuers) {
    const source = issuer.keySource;
    resolvers.set(issuer, 'jwks' in source ? createLocalJWKSet(source.jwks) : remoteJwksSource(source.jwksUri, source.ca === undefined ? {} : { ca: source.ca }));
  }
  return (issuer) => {
    const resolver = resolvers.get(issuer);
    if (resolver === undefined) throw new CertboundError('CB_INTERNAL', { description: 'internal error', detail: `no keys for issuer ${issuer.issuer}` });
    return resolver;
  };
}

/**
 * The STS request handler, for mounting on any node:https server whose TLS layer requests a
 * client certificate (`requestCert: true`). Public endpoints answer without one; the token
 * endpoint requires a CA-verified, registered client certificate.
 */
export function createStsHandler(options: StsOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const resolved = resolveStsOptions(options);
  return (req, res) => {
    route(req, res, resolved).catch((error: unknown) => sendStsError(res, toCertboundError(error), resolved));
  };
}

/** The one place an STS failure becomes a response. Internal failures are logged, never described. */
function sendStsError(res: ServerResponse, failure: CertboundError, options: ResolvedStsOptions): void {
  if (failure.code === 'CB_INTERNAL') options.onEvent({ type: 'server.error', detail: failure.detail ?? 'unknown' });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // An oversized body is left unread: close the connection rather than drain it.
  const headers: Record<string, string> = failure.code === 'CB_REQUEST_TOO_LARGE' ? { connection: 'close' } : {};
  const oauthError = SUBJECT_TOKEN_CODES.has(failure.code) ? options.subjectTokenError : undefined;
  sendOAuthError(res, failure, { headers, ...(oauthError === undefined ? {} : { oauthError }) });
}

type Route = { method: 'GET' | 'POST'; handle(req: IncomingMessage, res: ServerResponse, options: ResolvedStsOptions): void | Promise<void> };

const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  [TOKEN_ENDPOINT_PATH, { method: 'POST', handle: handleTokenRequest }],
  [INTROSPECTION_ENDPOINT_PATH, { method: 'POST', handle: handleIntrospection }],
  [WELL_KNOWN_JWKS, { method: 'GET', handle: sendJwks }],
  [HEALTH_PATH, { method: 'GET', handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) }],
]);

/** Metadata changes only with a restart; let clients cache it briefly. */
const PUBLIC_CACHE = { 'cache-control': 'public, max-age=300' };
/** The longest a JWKS may be cached, and never past the next scheduled key change. */
const JWKS_MAX_AGE_SECONDS = 300;

function sendJwks(_req: IncomingMessage, res: ServerResponse, options: ResolvedStsOptions): void {
  const now = Math.floor(options.now() / 1000);
  const untilChange = options.keys.secondsUntilNextChange(now);
  const maxAge = Math.max(0, Math.min(JWKS_MAX_AGE_SECONDS, untilChange ?? JWKS_MAX_AGE_SECONDS));
  sendJson(res, 200, { keys: options.keys.publishedKeys(now) }, { 'cache-control': `public, max-age=${maxAge}` });
}

/** The key that signs now; a schedule without one is the operator's problem, not the client's. */
function currentSigningKey(options: ResolvedStsOptions, now: number): SigningKey {
  const key = options.keys.signingKey(now);
  if (key === undefined) throw new CertboundError('CB_INTERNAL', { description: 'internal error', detail: 'no signing key is active in the keystore schedule' });
  return key;
}

const METADATA_ROUTE: Route = { method: 'GET', handle: (_req, res, options) => sendJson(res, 200, options.metadata, PUBLIC_CACHE) };

async function route(req: IncomingMessage, res: ServerResponse, options: ResolvedStsOptions): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0] as string;
  const endpoint = ROUTES.get(path) ?? (options.metadataPaths.has(path) ? METADATA_ROUTE : undefined);
  if (endpoint === undefined) throw new CertboundError('CB_NOT_FOUND', { description: 'no such endpoint' });
  if (req.method !== endpoint.method && !(endpoint.method === 'GET' && req.method === 'HEAD')) {
    // RFC 9110 §15.5.6: a 405 names the methods that would work.
    sendOAuthError(res, new CertboundError('CB_METHOD_NOT_ALLOWED', { description: `use ${endpoint.method}` }), {
      headers: { allow: endpoint.method === 'GET' ? 'GET, HEAD' : 'POST' },
    });
    return;
  }
  await endpoint.handle(req, res, options);
}

async function handleTokenRequest(req: IncomingMessage, res: ServerResponse, options: ResolvedStsOptions): Promise<void> {
  let certificate: PeerCertificate | undefined;
  let client: ClientRegistration | undefined;
  let grantType: string;
  let issued: IssuedToken;
  // One clock reading per request: every decision below is made at the same moment.
  const now = Math.floor(options.now() / 1000);
  try {
    certificate = requireClientCertificate(req);
    enforceRateLimit(certificate, options, res);
    requireTrustableCertificate(certificate, options.policy, now * 1000);
    const parameters = parseTokenRequest(req.headers['content-type'], await readBody(req, options.bodyLimitBytes));
    client = authenticateClient(certificate, { policy: options.policy, clientId: parameters.optional('client_id'), requireClientId: options.requireClientId, now: now * 1000 });
    grantType = parameters.required('grant_type');
    const grant = GRANTS.get(grantType);
    if (grant === undefined) {
      throw new CertboundError('CB_GRANT_TYPE_UNSUPPORTED', { description: `grant_type ${grantType} is not supported` });
    }
    if (!client.grantTypes.includes(grantType)) {
      throw new CertboundError('CB_CLIENT_GRANT_NOT_ALLOWED', { description: `client ${client.clientId} may not use grant_type ${grantType}` });
    }
    issued = await grant.handle({
      parameters,
      client,
      certificate,
      issuer: options.issuer,
      policy: options.policy,
      signingKey: currentSigningKey(options, now),
      accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds,
      now,
      keysFor: options.keysFor,
    });
  } catch (error) {
    throw reportRefusal('token.refused', error, certificate, options);
  }
  sendTokenResponse(res, { ...issued.response });
  options.onEvent({ type: 'token.issued', clientId: client.clientId, subject: issued.subject, jti: issued.jti, thumbprint: certificate.thumbprint, grantType });
}

/**
 * RFC 8705 §2: the token endpoint serves only mutual-TLS clients. Whether the certificate must be
 * CA-verified depends on the client it turns out to be (§2.1 PKI vs §2.2 self-signed).
 */
function requireClientCertificate(req: IncomingMessage): PeerCertificate {
  const certificate = peerCertificateOf(req);
  if (certificate === undefined) {
    throw new CertboundError('CB_CLIENT_UNAUTHENTICATED', { description: 'a client certificate is required (mutual TLS)', reason: 'missing' });
  }
  return certificate;
}

/**
 * One bucket per certificate thumbprint, checked before any other work, so a client that floods
 * the STS (registered or not) costs a hash lookup per request, not a policy walk or a signature.
 */
function enforceRateLimit(certificate: PeerCertificate, options: ResolvedStsOptions, res: ServerResponse): void {
  const decision = options.rateLimiter?.take(certificate.thumbprint, options.now());
  if (decision === undefined || decision.allowed) return;
  res.setHeader('retry-after', String(decision.retryAfterSeconds));
  throw new CertboundError('CB_RATE_LIMITED', { description: 'too many requests from this client certificate', detail: `x5t#S256=${certificate.thumbprint}` });
}

/** Every refusal is logged once, with its code and the certificate's thumbprint; internal failures are logged by sendStsError. */
function reportRefusal(type: 'token.refused' | 'introspection.refused', error: unknown, certificate: PeerCertificate | undefined, options: ResolvedStsOptions): CertboundError {
  const failure = toCertboundError(error);
  if (failure.code !== 'CB_INTERNAL') {
    options.onEvent({
      type,
      code: failure.code,
      description: failure.description,
      ...(failure.detail === undefined ? {} : { detail: failure.detail }),
      ...(certificate === undefined ? {} : { thumbprint: certificate.thumbprint }),
    });
  }
  return failure;
}

/**
 * RFC 7662 introspection for registered resource servers (`introspection: true`), authenticated
 * by their own certificate. Inactive tokens get `{active: false}` and nothing else.
 */
async function handleIntrospection(req: IncomingMessage, res: ServerResponse, options: ResolvedStsOptions): Promise<void> {
  const now = Math.floor(options.now() / 1000);
  let certificate: PeerCertificate | undefined;
  let response: Record<string, unknown>;
  try {
    certificate = requireClientCertificate(req);
    enforceRateLimit(certificate, options, res);
    requireTrustableCertificate(certificate, options.policy, now * 1000);
    const parameters = parseTokenRequest(req.headers['content-type'], await readBody(req, options.bodyLimitBytes));
    const client = authenticateClient(certificate, { policy: options.policy, clientId: parameters.optional('client_id'), requireClientId: options.requireClientId, now: now * 1000 });
    if (!client.introspection) {
      throw new CertboundError('CB_INTROSPECTION_NOT_ALLOWED', { description: `client ${client.clientId} may not introspect tokens` });
    }
    const token = parameters.required('token');
    parameters.optional('token_type_hint');
    response = await introspectAccessToken(token, {
      keys: options.publishedKeySet(now),
      issuer: options.issuer,
      now,
      ...(client.audiences.length === 0 ? {} : { audiences: client.audiences }),
    });
  } catch (error) {
    throw reportRefusal('introspection.refused', error, certificate, options);
  }
  sendJson(res, 200, response, { 'cache-control': 'no-store', pragma: 'no-cache' });
}

/** An HTTPS STS with certbound's TLS settings and server limits. */
export function createStsServer(options: StsOptions): ManagedServer {
  const handler = createStsHandler(options);
  return createLimitedHttpsServer(options.tls, options.limits ?? {}, handler);
}
