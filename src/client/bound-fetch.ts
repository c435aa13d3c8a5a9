import { fetch, Headers, type Agent, type RequestInit, type Response } from 'undici';
import * as v from 'valibot';
import { madeBy, nonEmpty, optionsObject, parseOptions } from '../core/schema.js';
import { createIdentityAgents } from './identity-agents.js';
import type { TokenSource } from './token-source.js';

export interface BoundFetchOptions {
  /** Where the tokens come from; with an identity (`identity` or `tls`), fetch follows its certificate. */
  tokenSource: TokenSource;
  /**
   * The mTLS agent with the same client certificate the token is bound to. Leave it out when the
   * token source has an identity: each request then goes over a connection presenting the
   * certificate its token is bound to, also across a rotation.
   */
  agent?: Agent;
  /** Without `agent`: the name resource certificates are checked against, when it differs from the URL host. */
  servername?: string;
}

/** `fetch` with the bound token; `close()` closes the connections it opened itself. */
export type BoundFetch = ((url: string | URL, init?: RequestInit) => Promise<Response>) & { close(): Promise<void> };

const BOUND_FETCH_OPTIONS = v.pipe(
  optionsObject(
    {
      tokenSource: madeBy<TokenSource>('getToken', 'must come from createTokenSource()'),
      agent: v.optional(madeBy<Agent>('dispatch', 'must be an undici Agent (createMtlsAgent())')),
      servername: v.optional(nonEmpty('must be a host name')),
    },
    'bound fetch options must be an object',
  ),
  v.check(
    (options) => options.agent !== undefined || options.tokenSource.identity !== undefined,
    'give "agent", or a token source made with "identity" or "tls"',
  ),
  v.check((options) => options.agent === undefined || options.servername === undefined, '"servername" is the agent\'s own setting'),
);

/**
 * `fetch` that sends the bound access token over the same client certificate. When the resource
 * answers 401 invalid_token (the token expired or keys rotated), it exchanges once more and retries
 * once; any other answer is returned as is.
 *
 * Without `agent`, each request takes one snapshot of the token source's identity and uses its
 * certificate for the connection and a token bound to its thumbprint, so a rotation never puts
 * a token on a connection that presents another certificate.
 *
 * @example
 * const boundFetch = createBoundFetch({ tokenSource: tokens });
 * const response = await boundFetch('https://server.domain.com:8443/orders');
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */
export function createBoundFetch(input: BoundFetchOptions): BoundFetch {
  const options = parseOptions(BOUND_FETCH_OPTIONS, input);
  const { tokenSource, agent } = options;
  const identity = tokenSource.identity;
  const agents = agent === undefined && identity !== undefined ? createIdentityAgents(identity, options.servername) : undefined;

  const withToken = (init: RequestInit, token: string): RequestInit['headers'] => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    return Object.fromEntries(headers);
  };
  /** One request and the thumbprint its token was bound to (undefined with a caller's agent). */
  const send = async (url: string | URL, init: RequestInit): Promise<{ response: Response; thumbprint: string | undefined }> => {
    if (agents === undefined || identity === undefined) {
      const response = await fetch(url, { ...init, headers: withToken(init, await tokenSource.getToken()), dispatcher: agent });
      return { response, thumbprint: undefined };
    }
    // One snapshot for both: the connection's certificate is the token's.
    const snapshot = identity.current();
    const token = await tokenSource.getTokenFor(snapshot);
    const response = await agents.use(snapshot, (dispatcher) =>
      fetch(url, { ...init, headers: withToken(init, token.accessToken), dispatcher }),
    );
    return { response, thumbprint: snapshot.thumbprint };
  };
  const boundFetch = async (url: string | URL, init: RequestInit = {}): Promise<Response> => {
    const { response, thumbprint } = await send(url, init);
    if (response.status === 401 && /error="invalid_token"/.test(response.headers.get('www-authenticate') ?? '') && init.body == null) {
      await response.body?.cancel();
      tokenSource.invalidate(thumbprint);
      return (await send(url, init)).response;
    }
    return response;
  };
  return Object.assign(boundFetch, { close: async () => agents?.close() });
}
