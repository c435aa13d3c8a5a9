import { readFile } from 'node:fs/promises';
import { fetch, type Agent } from 'undici';
import { CertboundError } from '../core/errors.js';
import { GRANT_TYPE_TOKEN_EXCHANGE, MEDIA_TYPE_FORM } from '../core/rfc.js';
import { DEFAULTS } from '../defaults.js';
import type { ExchangedToken } from './token-source.js';
import type { ResolvedTokenSourceOptions } from './token-source-options.js';
import { connectionFailureOf } from './connection-failure.js';

/** Connection failures worth another attempt: the STS restarting, a proxy dropping an idle socket. */
const RETRYABLE_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/**
 * One RFC 8693 exchange at the STS, with bounded retries of failures that are worth one (a reset
 * or refused connection, 503, 429), all within the source's timeout. A refusal is never retried.
 */
export async function exchange(options: ResolvedTokenSourceOptions, agent: Agent): Promise<ExchangedToken> {
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

  const deadline = options.now() + options.timeoutMs;
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
        signal: AbortSignal.timeout(Math.max(1, deadline - options.now())),
      });
      payload = (await response.json()) as Record<string, unknown>;
      if (response.status === 503 || response.status === 429) {
        retryable = true;
        retryAfterMs = retryAfterOf(response.headers.get('retry-after'));
      }
    } catch (error) {
      const connection = connectionFailureOf(error);
      const failure = new CertboundError('CB_STS_UNAVAILABLE', {
        description: `STS ${options.tokenEndpoint.origin} ${connection?.summary ?? 'is unreachable or answered garbage'}`,
        detail: describeNetworkError(error),
        cause: error,
      });
      if (attempt >= options.retries || !isRetryableNetworkError(error)) throw failure;
      if (!(await backOff(options, attempt, undefined, deadline))) throw failure;
      continue;
    }
    if (!retryable || attempt >= options.retries || !(await backOff(options, attempt, retryAfterMs, deadline))) break;
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
async function backOff(
  options: Pick<ResolvedTokenSourceOptions, 'now' | 'sleep'>,
  attempt: number,
  retryAfterMs: number | undefined,
  deadline: number,
): Promise<boolean> {
  const { retryBaseDelayMs, retryMaxDelayMs } = DEFAULTS.client;
  const exponential = Math.min(retryMaxDelayMs, retryBaseDelayMs * 2 ** attempt);
  // Full jitter spreads out clients that all lost the same STS at the same moment.
  const delay = retryAfterMs ?? Math.round(exponential / 2 + Math.random() * (exponential / 2));
  if (delay > retryMaxDelayMs || options.now() + delay >= deadline) return false;
  await options.sleep(delay);
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
    throw new CertboundError('CB_SUBJECT_TOKEN_UNREADABLE', {
      description: 'the subject token source failed',
      detail: error instanceof Error ? error.message : String(error),
      cause: error,
    });
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
  if (token.length === 0)
    throw new CertboundError('CB_SUBJECT_TOKEN_UNREADABLE', { description: `the subject token file ${path} is empty` });
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
