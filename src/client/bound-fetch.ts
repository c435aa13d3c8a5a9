import { fetch, Headers, type Agent, type RequestInit, type Response } from 'undici';
import { madeBy, optionsObject, parseOptions } from '../core/schema.js';
import type { TokenSource } from './token-source.js';

export interface BoundFetchOptions {
  tokenSource: TokenSource;
  /** The mTLS agent with the same client certificate the token is bound to. */
  agent: Agent;
}

const BOUND_FETCH_OPTIONS = optionsObject(
  {
    tokenSource: madeBy<TokenSource>('getToken', 'must come from createTokenSource()'),
    agent: madeBy<Agent>('dispatch', 'must be an undici Agent (createMtlsAgent())'),
  },
  'bound fetch options must be an object',
);

/**
 * `fetch` that sends the bound access token over the same client certificate. When the resource
 * answers 401 invalid_token (the token expired or keys rotated), it exchanges once more and retries
 * once; any other answer is returned as is.
 */
export function createBoundFetch(input: BoundFetchOptions): (url: string | URL, init?: RequestInit) => Promise<Response> {
  const options = parseOptions(BOUND_FETCH_OPTIONS, input);
  const send = async (url: string | URL, init: RequestInit): Promise<Response> => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${await options.tokenSource.getToken()}`);
    return fetch(url, { ...init, headers: Object.fromEntries(headers), dispatcher: options.agent });
  };
  return async (url, init = {}) => {
    const response = await send(url, init);
    if (response.status === 401 && /error="invalid_token"/.test(response.headers.get('www-authenticate') ?? '') && init.body == null) {
      await response.body?.cancel();
      options.tokenSource.invalidate();
      return send(url, init);
    }
    return response;
  };
}
