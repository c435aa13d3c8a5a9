import type { JWTVerifyGetKey } from 'jose';
import type { Policy, TrustedIssuer } from '../core/policy/types.js';
import { createRateLimiter, RATE_LIMIT_DEFAULTS, type RateLimiter, type RateLimitOptions } from '../core/rate-limit.js';
import type { Signer } from '../core/signing/signer.js';
import * as v from 'valibot';
import { librarySchema } from '../config/option.js';
import { STS_SETTINGS } from '../config/sts-settings.js';
import { ConfigError } from '../core/config-error.js';
import { callable, httpsUrl, isPlainObject, madeBy, optionsObject, parseOptions } from '../core/schema.js';
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
  /** One fixed signing key (createSigningKey, or a key in a token: openPkcs11Signer). Give this or `keys`. */
  signingKey?: Signer;
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

/**
 * The STS's scalar options, checked as sts.yaml's keys and the flags are (config/sts-settings.ts).
 * The body limit is not among them: a person may set at most 1 MiB, a program (a test of
 * nesting depth) more.
 */
const SCALAR_OPTIONS = [
  'publicUrl',
  'issuerMetadataElsewhere',
  'requireClientId',
  'accessTokenLifetimeSeconds',
  'subjectTokenError',
] as const;
const scalarSchemas = Object.fromEntries(
  STS_SETTINGS.filter((spec) => (SCALAR_OPTIONS as readonly string[]).includes(spec.option)).map((spec) => [
    spec.option,
    v.optional(librarySchema(spec.type)),
  ]),
);

const STS_OPTIONS = v.pipe(
  v.custom<Record<string, unknown>>(isPlainObject, 'STS options must be an object'),
  v.check((input) => (input.signingKey === undefined) !== (input.keys === undefined), 'give exactly one of "signingKey" and "keys"'),
  optionsObject(
    {
      issuer: httpsUrl('must be an https URL (RFC 8414 §2)'),
      signingKey: v.optional(madeBy<Signer>('sign', 'must come from createSigningKey() or openPkcs11Signer()')),
      keys: v.optional(madeBy<SigningKeyProvider>('signingKey', 'must come from openKeystore() or staticKeyProvider()')),
      policy: v.custom<Policy>((policy) => isPlainObject(policy) && Array.isArray(policy.clients), 'must come from parsePolicy()'),
      // Needed by createStsServer, not by createStsHandler (its caller owns the TLS server).
      tls: v.optional(v.custom<object>(isPlainObject, 'must give the CA bundle, certificate and key (ca, cert, key)')),
      // Checked by resolveServerLimits, naming each limit.
      limits: v.optional(v.custom<object>(isPlainObject, 'must be an object of limits')),
      ...scalarSchemas,
      bodyLimitBytes: v.optional(
        v.pipe(
          v.number('must be an integer >= 1024'),
          v.integer('must be an integer >= 1024'),
          v.minValue(1024, 'must be an integer >= 1024'),
        ),
      ),
      rateLimit: v.optional(
        v.union([v.literal(false), v.custom<RateLimitOptions>(isPlainObject)], '"rateLimit" must be false or { perSecond, burst }'),
      ),
      now: v.optional(callable<() => number>('must be a function returning milliseconds')),
      onEvent: v.optional(callable<(event: StsEvent) => void>('must be a function')),
    },
    'STS options must be an object',
  ),
);

/** @throws ConfigError naming the bad option. */
export function resolveStsOptions(options: StsOptions): ResolvedStsOptions {
  parseOptions(STS_OPTIONS, options);
  checkRegisteredGrantTypes(options.policy);
  const publicUrl = (options.publicUrl ?? options.issuer).replace(/\/+$/, '');
  const unreachable = options.issuerMetadataElsewhere === true ? undefined : discoveryProblem(options.issuer, publicUrl);
  if (unreachable !== undefined) {
    throw new ConfigError(
      'publicUrl',
      `: ${unreachable}; make it the issuer's origin, or set "issuerMetadataElsewhere" when something there serves the metadata`,
    );
  }
  const keys = options.keys ?? staticKeyProvider(options.signingKey as Signer);
  return {
    issuer: options.issuer,
    publicUrl,
    keys,
    policy: options.policy,
    accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds ?? STS_DEFAULTS.accessTokenLifetimeSeconds,
    bodyLimitBytes: options.bodyLimitBytes ?? STS_DEFAULTS.bodyLimitBytes,
    subjectTokenError: options.subjectTokenError ?? DEFAULTS.sts.subjectTokenError,
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
