import type { Agent } from 'undici';
import * as v from 'valibot';
import { TOKEN_ENDPOINT_PATH, TOKEN_TYPE_ACCESS_TOKEN } from '../core/rfc.js';
import { callable, integer, madeBy, nonEmpty, optionsObject, parseOptions } from '../core/schema.js';
import { DEFAULTS } from '../defaults.js';
import { readSubjectTokenFile } from './exchange.js';
import type { ClientIdentity } from './client-identity.js';
import type { ClientTlsOptions } from './mtls-agent.js';

/** Defaults: DEFAULTS.client (src/defaults.ts), where the reasons are. */
export const DEFAULT_REFRESH_WINDOW_SECONDS = DEFAULTS.client.refreshWindowSeconds;
export const DEFAULT_STS_TIMEOUT_MS = DEFAULTS.client.timeoutMs;
export const DEFAULT_STS_RETRIES = DEFAULTS.client.retries;

export interface TokenSourceOptions {
  /** The STS token endpoint; a URL without a path means `<url>/token`. */
  stsUrl: string | URL;
  /** Client certificate, key and CA for the STS connection; or give `identity` or `agent`. */
  tls?: ClientTlsOptions;
  /**
   * A client identity that may change while the process runs (`watchClientIdentity` for files,
   * `createClientIdentity` for material in memory): tokens are cached by its certificate's
   * thumbprint and exchanged over connections that present it. The source does not close it.
   */
  identity?: ClientIdentity;
  /** With `identity`: the name the STS certificate is checked against, when it differs from the URL host. */
  servername?: string;
  /**
   * An existing mTLS agent (e.g. shared with resource calls). The source cannot see its
   * certificate, so it cannot follow a rotation: prefer `identity`.
   */
  agent?: Agent;
  /**
   * The subject token, or a function returning it (called for each exchange). Give this or
   * `subjectTokenFile`.
   */
  subjectToken?: string | (() => string | Promise<string>);
  /**
   * A file holding the subject token, read afresh for each exchange, so a rotated token (a
   * Kubernetes projected service-account token, a SPIFFE JWT-SVID) is picked up the way gRPC's
   * own STS credentials read `SubjectTokenPath`. A trailing newline is not part of the token.
   */
  subjectTokenFile?: string;
  /** Default: the RFC 8693 §3 access_token token type. */
  subjectTokenType?: string;
  /**
   * The client's registered client_id, sent with each exchange (RFC 8705 §2) so the STS checks the
   * certificate against that registration. Needed when the STS requires it.
   */
  clientId?: string;
  audience?: string | readonly string[];
  resource?: string | readonly string[];
  scope?: string | readonly string[];
  requestedTokenType?: string;
  /** Seconds before expiry to fetch a new token (default 60). */
  refreshWindowSeconds?: number;
  /** Time for the whole exchange, retries included, in ms (default 10 s). */
  timeoutMs?: number;
  /**
   * Further attempts when the connection is reset or refused, or the STS answers 503 or 429
   * (default 2). A token request may be repeated safely: a second token is harmless.
   */
  retries?: number;
  /** Current time in milliseconds; injected so refresh and retry deadlines are testable. */
  now?: () => number;
  /** How to wait before a retry (default: a timer); injected so tests need not wait. */
  sleep?: (ms: number) => Promise<void>;
}

export interface ResolvedTokenSourceOptions {
  tokenEndpoint: URL;
  subjectToken: () => string | Promise<string>;
  subjectTokenType: string;
  clientId: string | undefined;
  audience: string[];
  resource: string[];
  scope: string | undefined;
  requestedTokenType: string | undefined;
  refreshWindowSeconds: number;
  timeoutMs: number;
  retries: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

/** One value or a list of them, as a list. */
const oneOrList = v.optional(
  v.pipe(
    v.union([v.string(), v.array(v.string())], 'must be a string or a list of strings'),
    v.transform((value): string[] => (typeof value === 'string' ? [value] : [...value])),
  ),
  () => [],
);

const STS_URL = v.pipe(
  v.custom<string | URL>((url) => url instanceof URL || (typeof url === 'string' && URL.canParse(url)), 'must be a URL'),
  v.transform((url) => new URL(url)),
  v.check((url) => url.protocol === 'https:', 'must be an https URL: the exchange needs mutual TLS'),
  // A URL without a path means the STS's token endpoint.
  v.transform((url) => (url.pathname === '/' || url.pathname === '' ? new URL(TOKEN_ENDPOINT_PATH, url) : url)),
);

const TOKEN_SOURCE_OPTIONS = v.pipe(
  v.custom<Record<string, unknown>>((input) => input !== null && typeof input === 'object', 'token source options must be an object'),
  v.check(
    (input) => input.agent !== undefined || input.tls !== undefined || input.identity !== undefined,
    'give "tls" (client certificate), "identity" or "agent"',
  ),
  // "agent" with "tls" is allowed as it always was (the agent is used); an identity is the whole story.
  v.check(
    (input) => input.identity === undefined || (input.agent === undefined && input.tls === undefined),
    'give "identity" alone: it is the client certificate, in place of "tls" or "agent"',
  ),
  v.check(
    (input) => (input.subjectToken === undefined) !== (input.subjectTokenFile === undefined),
    'give exactly one of "subjectToken" and "subjectTokenFile"',
  ),
  optionsObject(
    {
      stsUrl: STS_URL,
      // Checked above (one of them) and by createMtlsAgent.
      tls: v.optional(v.unknown()),
      agent: v.optional(v.unknown()),
      identity: v.optional(madeBy<ClientIdentity>('current', 'must come from createClientIdentity() or watchClientIdentity()')),
      servername: v.optional(nonEmpty('must be a host name')),
      subjectToken: v.optional(
        v.custom<string | (() => string | Promise<string>)>(
          (token) => typeof token === 'function' || (typeof token === 'string' && token.length > 0),
          'must be a non-empty string or a function',
        ),
      ),
      subjectTokenFile: v.optional(nonEmpty('must be a file path')),
      subjectTokenType: v.optional(nonEmpty(), TOKEN_TYPE_ACCESS_TOKEN),
      clientId: v.optional(nonEmpty()),
      audience: oneOrList,
      resource: oneOrList,
      scope: oneOrList,
      requestedTokenType: v.optional(nonEmpty()),
      refreshWindowSeconds: v.optional(
        v.pipe(v.number('must be >= 0'), v.finite('must be >= 0'), v.minValue(0, 'must be >= 0')),
        DEFAULT_REFRESH_WINDOW_SECONDS,
      ),
      timeoutMs: v.optional(v.pipe(v.number('must be > 0'), v.finite('must be > 0'), v.gtValue(0, 'must be > 0')), DEFAULT_STS_TIMEOUT_MS),
      retries: v.optional(integer(0, 10), DEFAULT_STS_RETRIES),
      now: v.optional(callable<() => number>('must be a function returning milliseconds'), () => Date.now),
      sleep: v.optional(
        callable<(ms: number) => Promise<void>>('must be a function'),
        () => (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
      ),
    },
    'token source options must be an object',
  ),
);

/**
 * The token source's options, checked once, defaults filled in.
 * @throws ConfigError naming the option.
 */
export function resolveTokenSourceOptions(options: TokenSourceOptions): ResolvedTokenSourceOptions {
  const parsed = parseOptions(TOKEN_SOURCE_OPTIONS, options);
  const { subjectToken, subjectTokenFile } = parsed;
  const scope = parsed.scope.join(' ');
  return {
    tokenEndpoint: parsed.stsUrl,
    subjectToken:
      subjectTokenFile !== undefined
        ? () => readSubjectTokenFile(subjectTokenFile)
        : typeof subjectToken === 'function'
          ? subjectToken
          : () => subjectToken as string,
    subjectTokenType: parsed.subjectTokenType,
    clientId: parsed.clientId,
    audience: parsed.audience,
    resource: parsed.resource,
    scope: scope === '' ? undefined : scope,
    requestedTokenType: parsed.requestedTokenType,
    refreshWindowSeconds: parsed.refreshWindowSeconds,
    timeoutMs: parsed.timeoutMs,
    retries: parsed.retries,
    now: parsed.now,
    sleep: parsed.sleep,
  };
}
