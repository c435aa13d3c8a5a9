import { readFile } from 'node:fs/promises';
import { fetch, type Agent } from 'undici';
import { CertboundError } from '../core/errors.js';
import { GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_ENDPOINT_PATH, TOKEN_TYPE_ACCESS_TOKEN, MEDIA_TYPE_FORM } from '../core/rfc.js';
import { createMtlsAgent, type ClientTlsOptions } from './mtls-agent.js';

/** Refresh this long before expiry (capped at half the token's lifetime for short-lived tokens). */
export const DEFAULT_REFRESH_WINDOW_SECONDS = 60;
/** An STS that does not answer within this (all attempts together) is treated as unavailable. */
export const DEFAULT_STS_TIMEOUT_MS = 10_000;
/** Retries of an exchange that met a reset or refused connection, a 503 or a 429. */
export const DEFAULT_STS_RETRIES = 2;
/** First retry delay; doubled each time, with jitter, and at most RETRY_MAX_DELAY_MS. */
const RETRY_BASE_DELAY_MS = 100;
const RETRY_MAX_DELAY_MS = 2_000;
/** Connection failures worth another attempt: the STS restarting, a proxy dropping an idle socket. */
const RETRYABLE_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

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
  /** Current time in milliseconds; injected so refresh is testable. */
  now?: () => number;
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

interface ResolvedTokenSourceOptions {
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
  };
}

async function exchange(options: ResolvedTokenSourceOptions, agent: Agent): Promise<ExchangedToken> {
  const body = new URLSearchParams({
    grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
    subject_token: await obtainSubjectToken(options.subjectToken),
    subject_token_type: options.subjectTokenType,
  });
  if (options.clientId !== undefined) body.set('client_id', options.clientId);
  for (const audience of options.audience) body.append('audience', audience);
  for (const resource of options.resource) body.append('resource', resource);
  if (options.scope !== undefined) body.set('scope', options.scope);
  if (options.requestedTokenType !== undefined) body.set('requested_token_type', options.requestedTokenType);

  const deadline = Date.now() + options.timeoutMs;
  let requestedAt: number;
  let response;
  let payload: Record<string, unknown>;
  for (let attempt = 0; ; attempt++) {
    requestedAt = options.now();
    let retryable = false;
    let retryAfterMs: number | undefined;
    try {
      response = await fetch(options.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': MEDIA_TYPE_FORM, accept: 'application/json' },
        body: body.toString(),
        dispatcher: agent,
        signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
      });
      payload = (await response.json()) as Record<string, unknown>;
      if (response.status === 503 || response.status === 429) {
        retryable = true;
        retryAfterMs = retryAfterOf(response.headers.get('retry-after'));
      }
    } catch (error) {
      const failure = new CertboundError('CB_STS_UNAVAILABLE', {
        description: `STS ${options.tokenEndpoint.origin} is unreachable or answered garbage`,
        detail: describeNetworkError(error),
        cause: error,
      });
      if (attempt >= options.retries || !isRetryableNetworkError(error)) throw failure;
      if (!(await backOff(attempt, undefined, deadline))) throw failure;
      continue;
    }
    if (!retryable || attempt >= options.retries || !(await backOff(attempt, retryAfterMs, deadline))) break;
  }
  if (!response.ok) {
    const oauthError = typeof payload?.error === 'string' ? payload.error : `http_${response.status}`;
    const description = typeof payload?.error_description === 'string' ? `: ${payload.error_description}` : '';
    throw new CertboundError(response.status >= 500 ? 'CB_STS_UNAVAILABLE' : 'CB_STS_REFUSED', {
      description: `STS refused the exchange (${oauthError}${description})`,
      remoteError: oauthError,
    });
  }
  const accessToken = payload.access_token;
  const expiresIn = payload.expires_in;
  if (typeof accessToken !== 'string' || accessToken.length === 0 || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
    throw new CertboundError('CB_STS_UNAVAILABLE', { description: 'STS token response lacks access_token or expires_in' });
  }
  return {
    accessToken,
    tokenType: typeof payload.token_type === 'string' ? payload.token_type : 'Bearer',
    issuedTokenType: typeof payload.issued_token_type === 'string' ? payload.issued_token_type : undefined,
    expiresIn,
    scope: typeof payload.scope === 'string' ? payload.scope : undefined,
    // Counted from when the request was sent: never later than the STS's own clock says.
    expiresAt: requestedAt + expiresIn * 1000,
  };
}

/** Wait before the next attempt; false when the wait would pass the deadline. */
async function backOff(attempt: number, retryAfterMs: number | undefined, deadline: number): Promise<boolean> {
  const exponential = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** attempt);
  // Full jitter spreads out clients that all lost the same STS at the same moment.
  const delay = retryAfterMs ?? Math.round(exponential / 2 + Math.random() * (exponential / 2));
  if (delay > RETRY_MAX_DELAY_MS || Date.now() + delay >= deadline) return false;
  await new Promise((resolve) => setTimeout(resolve, delay));
  return true;
}

/** Retry-After in ms (delta-seconds only; an HTTP date is treated as absent). */
function retryAfterOf(header: string | null): number | undefined {
  if (header === null || !/^\d{1,6}$/.test(header.trim())) return undefined;
  return Number(header.trim()) * 1000;
}

function isRetryableNetworkError(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (code !== undefined && RETRYABLE_NETWORK_CODES.has(code)) return true;
  }
  return false;
}

/** The subject token from the caller's source; its failures are reported as such, not as STS ones. */
async function obtainSubjectToken(source: () => string | Promise<string>): Promise<string> {
  let token: unknown;
  try {
    token = await source();
  } catch (error) {
    if (error instanceof CertboundError) throw error;
    throw new CertboundError('CB_SUBJECT_TOKEN_UNREADABLE', { description: 'the subject token source failed', detail: error instanceof Error ? error.message : String(error), cause: error });
  }
  if (typeof token !== 'string' || token.length === 0) {
    throw new CertboundError('CB_SUBJECT_TOKEN_UNREADABLE', { description: 'the subject token source returned no token' });
  }
  return token;
}

/** The subject token in a file, as of now. */
export async function readSubjectTokenFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CertboundError('CB_SUBJECT_TOKEN_UNREADABLE', {
      description: `cannot read the subject token file ${path}`,
      detail: (error as NodeJS.ErrnoException).code ?? String(error),
      cause: error,
    });
  }
  const token = text.replace(/\r?\n$/, '');
  if (token.length === 0) throw new CertboundError('CB_SUBJECT_TOKEN_UNREADABLE', { description: `the subject token file ${path} is empty` });
  return token;
}

/** undici wraps the interesting part (ECONNREFUSED, a TLS alert) in `cause`. */
export function describeNetworkError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    parts.push(code === undefined ? current.message : `${code}: ${current.message}`);
    current = current.cause;
  }
  return parts.join(' <- ') || String(error);
}
