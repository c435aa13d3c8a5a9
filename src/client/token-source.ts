import type { Agent } from 'undici';
import { TOKEN_ENDPOINT_PATH, TOKEN_TYPE_ACCESS_TOKEN } from '../core/rfc.js';
import { DEFAULTS } from '../defaults.js';
import { exchange, readSubjectTokenFile } from './exchange.js';
import { createMtlsAgent, type ClientTlsOptions } from './mtls-agent.js';

/** Defaults: DEFAULTS.client (src/defaults.ts), where the reasons are. */
export const DEFAULT_REFRESH_WINDOW_SECONDS = DEFAULTS.client.refreshWindowSeconds;
export const DEFAULT_STS_TIMEOUT_MS = DEFAULTS.client.timeoutMs;
export const DEFAULT_STS_RETRIES = DEFAULTS.client.retries;

export interface TokenSourceOptions {
  /** The STS token endpoint; a URL without a path means `<url>/token`. */
  stsUrl: string | URL;
  /** Client certificate, key and CA for the STS connection; or give `agent`. */
  tls?: ClientTlsOptions;
  /** An existing mTLS agent (e.g. shared with resource calls). */
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

/** The STS's token response, with the moment it stops being used. */
export interface ExchangedToken {
  accessToken: string;
  tokenType: string;
  issuedTokenType: string | undefined;
  expiresIn: number;
  scope: string | undefined;
  /** Milliseconds since the epoch when the token expires, by the client's clock. */
  expiresAt: number;
}

export interface TokenSource {
  /** A valid access token: the cached one, or a fresh exchange. Concurrent callers share one request. */
  getToken(): Promise<string>;
  /** The whole token response behind getToken(). */
  getTokenResponse(): Promise<ExchangedToken>;
  /** Forget the cached token (e.g. after a resource answered invalid_token). */
  invalidate(): void;
  /** Close the agent this source created (not one passed in). */
  close(): Promise<void>;
}

/**
 * Exchange a subject token for a certificate-bound access token (RFC 8693) over mutual TLS, cache
 * it and refresh it before it expires. One exchange is in flight at a time.
 *
 * @example
 * const tokens = createTokenSource({ stsUrl: 'https://sts.domain.com:8081', tls: { ca, cert, key }, subjectToken: 'iamtheeggman', audience: 'https://server.domain.com:8443' });
 * const token = await tokens.getToken();
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2
 */
export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const resolved = resolveTokenSourceOptions(options);
  const ownAgent = options.agent === undefined;
  const agent = options.agent ?? createMtlsAgent(options.tls as ClientTlsOptions);
  let cached: ExchangedToken | undefined;
  let inFlight: Promise<ExchangedToken> | undefined;

  const fresh = (token: ExchangedToken): boolean => {
    const window = Math.min(resolved.refreshWindowSeconds, token.expiresIn / 2) * 1000;
    return resolved.now() < token.expiresAt - window;
  };

  const getTokenResponse = (): Promise<ExchangedToken> => {
    if (cached !== undefined && fresh(cached)) return Promise.resolve(cached);
    inFlight ??= exchange(resolved, agent)
      .then((token) => {
        cached = token;
        return token;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  return {
    getTokenResponse,
    getToken: async () => (await getTokenResponse()).accessToken,
    invalidate() {
      cached = undefined;
    },
    async close() {
      if (ownAgent) await agent.close();
    },
  };
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

function resolveTokenSourceOptions(options: TokenSourceOptions): ResolvedTokenSourceOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('token source options must be an object');
  if (options.agent === undefined && options.tls === undefined) throw new TypeError('give "tls" (client certificate) or "agent"');
  let tokenEndpoint: URL;
  try {
    tokenEndpoint = new URL(options.stsUrl);
  } catch {
    throw new TypeError('"stsUrl" must be a URL');
  }
  if (tokenEndpoint.protocol !== 'https:') throw new TypeError('"stsUrl" must be an https URL: the exchange needs mutual TLS');
  if (tokenEndpoint.pathname === '/' || tokenEndpoint.pathname === '') tokenEndpoint = new URL(TOKEN_ENDPOINT_PATH, tokenEndpoint);
  const { subjectToken, subjectTokenFile } = options;
  if ((subjectToken === undefined) === (subjectTokenFile === undefined)) throw new TypeError('give exactly one of "subjectToken" and "subjectTokenFile"');
  if (subjectTokenFile !== undefined && (typeof subjectTokenFile !== 'string' || subjectTokenFile.length === 0)) {
    throw new TypeError('"subjectTokenFile" must be a file path');
  }
  if (subjectToken !== undefined && typeof subjectToken !== 'function' && (typeof subjectToken !== 'string' || subjectToken.length === 0)) {
    throw new TypeError('"subjectToken" must be a non-empty string or a function');
  }
  if (options.clientId !== undefined && (typeof options.clientId !== 'string' || options.clientId.length === 0)) throw new TypeError('"clientId" must be a non-empty string');
  const list = (value: string | readonly string[] | undefined): string[] => (value === undefined ? [] : typeof value === 'string' ? [value] : [...value]);
  const scope = options.scope === undefined ? undefined : list(options.scope).join(' ');
  const refreshWindowSeconds = options.refreshWindowSeconds ?? DEFAULT_REFRESH_WINDOW_SECONDS;
  if (!(refreshWindowSeconds >= 0)) throw new TypeError('"refreshWindowSeconds" must be >= 0');
  const timeoutMs = options.timeoutMs ?? DEFAULT_STS_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new TypeError('"timeoutMs" must be > 0');
  const retries = options.retries ?? DEFAULT_STS_RETRIES;
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw new TypeError('"retries" must be an integer from 0 to 10');
  return {
    tokenEndpoint,
    subjectToken:
      subjectTokenFile !== undefined ? () => readSubjectTokenFile(subjectTokenFile) : typeof subjectToken === 'function' ? subjectToken : () => subjectToken as string,
    subjectTokenType: options.subjectTokenType ?? TOKEN_TYPE_ACCESS_TOKEN,
    clientId: options.clientId,
    audience: list(options.audience),
    resource: list(options.resource),
    scope: scope === '' ? undefined : scope,
    requestedTokenType: options.requestedTokenType,
    refreshWindowSeconds,
    timeoutMs,
    retries,
    now: options.now ?? Date.now,
    sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
  };
}

