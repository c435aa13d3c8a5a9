import type { JWTVerifyGetKey } from 'jose';
import type { Policy, TrustedIssuer } from '../core/policy/types.js';
import { createRateLimiter, RATE_LIMIT_DEFAULTS, type RateLimiter, type RateLimitOptions } from '../core/rate-limit.js';
import type { SigningKey } from '../core/signing/signer.js';
import { DEFAULTS } from '../defaults.js';
import { staticKeyProvider, type SigningKeyProvider } from '../keys/keystore.js';
import type { ServerLimits } from '../config/limits.js';
import type { ServerTlsOptions } from '../server/tls.js';
import { buildMetadata, discoveryProblem, metadataPathsOf } from './discovery.js';
import type { StsEvent } from './events.js';
import { checkRegisteredGrantTypes, GRANTS } from './grants/registry.js';
import { issuerKeyResolver, publishedKeySetOf } from './keys.js';

/** Defaults: DEFAULTS.sts (src/defaults.ts), where the reasons are. */
export const STS_DEFAULTS = {
  accessTokenLifetimeSeconds: DEFAULTS.sts.accessTokenLifetimeSeconds,
  bodyLimitBytes: DEFAULTS.sts.bodyLimitBytes,
} as const;

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

/** The options with defaults filled in and everything derived from them built once. */
export interface ResolvedStsOptions {
  issuer: string;
  publicUrl: string;
  keys: SigningKeyProvider;
  policy: Policy;
  accessTokenLifetimeSeconds: number;
  bodyLimitBytes: number;
  subjectTokenError: 'invalid_request' | 'invalid_grant';
  requireClientId: boolean;
  now: () => number;
  onEvent: (event: StsEvent) => void;
  rateLimiter: RateLimiter | undefined;
  /** The published keys as a resolver, rebuilt only when the set changes (keys imported once). */
  publishedKeySet: (nowSeconds: number) => JWTVerifyGetKey;
  keysFor: (issuer: TrustedIssuer) => JWTVerifyGetKey;
  metadata: Record<string, unknown>;
  /** Request paths answered with the metadata document (RFC 8414 §3.1). */
  metadataPaths: ReadonlySet<string>;
}

/** @throws TypeError naming the bad option. */
export function resolveStsOptions(options: StsOptions): ResolvedStsOptions {
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
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > DEFAULTS.sts.maxAccessTokenLifetimeSeconds) {
    throw new TypeError(`"accessTokenLifetimeSeconds" must be an integer from 1 to ${DEFAULTS.sts.maxAccessTokenLifetimeSeconds}`);
  }
  const bodyLimit = options.bodyLimitBytes ?? STS_DEFAULTS.bodyLimitBytes;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1024) throw new TypeError('"bodyLimitBytes" must be an integer >= 1024');
  const subjectTokenError = options.subjectTokenError ?? DEFAULTS.sts.subjectTokenError;
  if (subjectTokenError !== 'invalid_request' && subjectTokenError !== 'invalid_grant') {
    throw new TypeError('"subjectTokenError" must be "invalid_request" or "invalid_grant"');
  }
  const publicUrl = (options.publicUrl ?? options.issuer).replace(/\/+$/, '');
  if (!URL.canParse(publicUrl) || !publicUrl.startsWith('https://')) throw new TypeError('"publicUrl" must be an https URL');
  if (options.issuerMetadataElsewhere !== undefined && typeof options.issuerMetadataElsewhere !== 'boolean') throw new TypeError('"issuerMetadataElsewhere" must be true or false');
  const unreachable = options.issuerMetadataElsewhere === true ? undefined : discoveryProblem(options.issuer, publicUrl);
  if (unreachable !== undefined) throw new TypeError(`"publicUrl": ${unreachable}; make it the issuer's origin, or set "issuerMetadataElsewhere" when something there serves the metadata`);
  if (options.requireClientId !== undefined && typeof options.requireClientId !== 'boolean') throw new TypeError('"requireClientId" must be true or false');
  const keys = options.keys ?? staticKeyProvider(options.signingKey as SigningKey);
  return {
    issuer: options.issuer,
    publicUrl,
    keys,
    policy: options.policy,
    accessTokenLifetimeSeconds: lifetime,
    bodyLimitBytes: bodyLimit,
    subjectTokenError,
    requireClientId: options.requireClientId ?? DEFAULTS.sts.requireClientId,
    now: options.now ?? Date.now,
    onEvent: options.onEvent ?? (() => {}),
    rateLimiter: options.rateLimit === false ? undefined : createRateLimiter(options.rateLimit ?? RATE_LIMIT_DEFAULTS),
    publishedKeySet: publishedKeySetOf(keys),
    keysFor: issuerKeyResolver(options.policy),
    // Built once: these documents never change while the server runs.
    metadata: buildMetadata(options.issuer, publicUrl, options.policy, [...GRANTS.keys()]),
    metadataPaths: metadataPathsOf(options.issuer),
  };
}
