import { exchange } from './exchange.js';
import { createMtlsAgent, type ClientTlsOptions } from './mtls-agent.js';
import { resolveTokenSourceOptions, type TokenSourceOptions } from './token-source-options.js';

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
