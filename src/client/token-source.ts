import type { Agent } from 'undici';
import { misuse } from '../core/config-error.js';
import { createClientIdentity, type ClientIdentity, type ClientIdentitySnapshot } from './client-identity.js';
import { exchange } from './exchange.js';
import { createIdentityAgents } from './identity-agents.js';
import { checkClientTls, type ClientTlsOptions } from './mtls-agent.js';
import { resolveTokenSourceOptions, type ResolvedTokenSourceOptions, type TokenSourceOptions } from './token-source-options.js';

export type { TokenSourceOptions } from './token-source-options.js';

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
  /**
   * A valid access token for the current client certificate: the cached one, or a fresh exchange.
   * Concurrent callers share one request.
   */
  getToken(): Promise<string>;
  /** The whole token response behind getToken(). */
  getTokenResponse(): Promise<ExchangedToken>;
  /**
   * The token bound to one snapshot of the source's identity, exchanged over a connection that
   * presents that snapshot's certificate: for a request that goes out over a connection presenting
   * the same certificate. Tokens are cached by thumbprint.
   * @throws TypeError when the source was given an `agent` (it has no identity).
   */
  getTokenFor(snapshot: ClientIdentitySnapshot): Promise<ExchangedToken>;
  /** The identity the source follows (from `identity` or `tls`); undefined when given an `agent`. */
  readonly identity: ClientIdentity | undefined;
  /**
   * Forget the cached token (e.g. after a resource answered invalid_token): the one for
   * `thumbprint`, or all of them.
   */
  invalidate(thumbprint?: string): void;
  /** Close the connections this source made (not an agent or identity passed in). */
  close(): Promise<void>;
}

/** The cache key of a source given an agent, whose certificate it cannot see. */
const AGENT_KEY = '';

/**
 * Exchange a subject token for a certificate-bound access token (RFC 8693) over mutual TLS, cache
 * it and refresh it before it expires. One exchange per certificate is in flight at a time.
 *
 * With `identity` (or `tls`), the source follows the client certificate: tokens are cached by
 * its thumbprint, and when it changes the next exchange goes over new connections presenting the
 * new certificate (a token for the new thumbprint is fetched at once, ahead of the next request).
 *
 * @example
 * const tokens = createTokenSource({ stsUrl: 'https://sts.domain.com:8081', tls: { ca, cert, key }, subjectToken: 'iamtheeggman', audience: 'https://server.domain.com:8443' });
 * const token = await tokens.getToken();
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2
 */
export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const resolved = resolveTokenSourceOptions(options);
  if (options.agent !== undefined) return agentTokenSource(resolved, options.agent);
  const tls = options.tls as ClientTlsOptions | undefined;
  if (tls !== undefined) checkClientTls(tls);
  const ownIdentity = options.identity === undefined;
  const identity = options.identity ?? createClientIdentity(tls as ClientTlsOptions);
  const agents = createIdentityAgents(identity, options.servername ?? tls?.servername);
  const cache = createTokenCache(resolved);
  const getTokenFor = (snapshot: ClientIdentitySnapshot): Promise<ExchangedToken> =>
    cache.get(snapshot.thumbprint, () => agents.use(snapshot, (agent) => exchange(resolved, agent)));

  const stop = identity.onChange((next, previous) => {
    // Tokens for the previous certificate may still be wanted by requests that took it just before.
    cache.keep([next.thumbprint, previous.thumbprint]);
    // The failure, if any, is the next request's to report.
    getTokenFor(next).catch(() => {});
  });
  const getTokenResponse = (): Promise<ExchangedToken> => getTokenFor(identity.current());
  return {
    identity,
    getTokenFor,
    getTokenResponse,
    getToken: async () => (await getTokenResponse()).accessToken,
    invalidate: (thumbprint) => cache.forget(thumbprint),
    async close() {
      stop();
      await agents.close();
      if (ownIdentity) await identity.close();
    },
  };
}

/** The token source over a caller's agent: one certificate, unseen, so one cache entry. */
function agentTokenSource(resolved: ResolvedTokenSourceOptions, agent: Agent): TokenSource {
  const cache = createTokenCache(resolved);
  const getTokenResponse = (): Promise<ExchangedToken> => cache.get(AGENT_KEY, () => exchange(resolved, agent));
  return {
    identity: undefined,
    getTokenFor() {
      throw misuse('this token source was given an "agent", so it has no client identity: give it "identity" or "tls"');
    },
    getTokenResponse,
    getToken: async () => (await getTokenResponse()).accessToken,
    invalidate: (thumbprint) => cache.forget(thumbprint === undefined ? undefined : AGENT_KEY),
    close: () => Promise.resolve(),
  };
}

/** Tokens by certificate thumbprint, each fresh until the refresh window, one exchange in flight per thumbprint. */
function createTokenCache(resolved: Pick<ResolvedTokenSourceOptions, 'now' | 'refreshWindowSeconds'>) {
  const entries = new Map<string, { cached?: ExchangedToken; inFlight?: Promise<ExchangedToken> }>();
  const fresh = (token: ExchangedToken): boolean => {
    const window = Math.min(resolved.refreshWindowSeconds, token.expiresIn / 2) * 1000;
    return resolved.now() < token.expiresAt - window;
  };
  return {
    get(key: string, fetchToken: () => Promise<ExchangedToken>): Promise<ExchangedToken> {
      let entry = entries.get(key);
      if (entry === undefined) entries.set(key, (entry = {}));
      const { cached } = entry;
      if (cached !== undefined && fresh(cached)) return Promise.resolve(cached);
      const current = entry;
      current.inFlight ??= fetchToken()
        .then((token) => {
          current.cached = token;
          return token;
        })
        .finally(() => {
          current.inFlight = undefined;
        });
      return current.inFlight;
    },
    forget(key: string | undefined): void {
      if (key === undefined) for (const entry of entries.values()) entry.cached = undefined;
      else {
        const entry = entries.get(key);
        if (entry !== undefined) entry.cached = undefined;
      }
    },
    keep(keys: readonly string[]): void {
      for (const key of [...entries.keys()]) if (!keys.includes(key)) entries.delete(key);
    },
  };
}
