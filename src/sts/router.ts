import type { IncomingMessage, ServerResponse } from 'node:http';
import { CertboundError } from '../core/errors.js';
import { HEALTH_PATH, INTROSPECTION_ENDPOINT_PATH, TOKEN_ENDPOINT_PATH, WELL_KNOWN_JWKS } from '../core/rfc.js';
import { sendOAuthError } from '../server/respond.js';
import { handleIntrospection } from './endpoints/introspection.js';
import { sendHealth, sendJwks, sendMetadata } from './endpoints/public.js';
import { handleTokenRequest } from './endpoints/token.js';
import type { ResolvedStsOptions } from './options.js';

type Endpoint = {
  method: 'GET' | 'POST';
  handle(req: IncomingMessage, res: ServerResponse, options: ResolvedStsOptions): void | Promise<void>;
};

const ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map<string, Endpoint>([
  [TOKEN_ENDPOINT_PATH, { method: 'POST', handle: handleTokenRequest }],
  [INTROSPECTION_ENDPOINT_PATH, { method: 'POST', handle: handleIntrospection }],
  [WELL_KNOWN_JWKS, { method: 'GET', handle: sendJwks }],
  [HEALTH_PATH, { method: 'GET', handle: sendHealth }],
]);
const METADATA: Endpoint = { method: 'GET', handle: sendMetadata };

/** Refusals of the subject token itself, whose OAuth error `subjectTokenError` chooses. */
const SUBJECT_TOKEN_CODES: ReadonlySet<string> = new Set([
  'CB_SUBJECT_TOKEN_INVALID',
  'CB_SUBJECT_TOKEN_NOT_FOR_CLIENT',
  'CB_SUBJECT_TOKEN_CNF_MISMATCH',
  'CB_SUBJECT_TOKEN_CNF_UNSUPPORTED',
  'CB_ACTOR_NOT_ALLOWED',
]);

/** The endpoint for a request path; wrong methods get 405 with Allow (RFC 9110 §15.5.6). */
export async function route(req: IncomingMessage, res: ServerResponse, options: ResolvedStsOptions): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0] as string;
  const endpoint = ENDPOINTS.get(path) ?? (options.metadataPaths.has(path) ? METADATA : undefined);
  if (endpoint === undefined) throw new CertboundError('CB_NOT_FOUND', { description: 'no such endpoint' });
  if (req.method !== endpoint.method && !(endpoint.method === 'GET' && req.method === 'HEAD')) {
    sendOAuthError(res, new CertboundError('CB_METHOD_NOT_ALLOWED', { description: `use ${endpoint.method}` }), {
      headers: { allow: endpoint.method === 'GET' ? 'GET, HEAD' : 'POST' },
    });
    return;
  }
  await endpoint.handle(req, res, options);
}

/** The one place an STS failure becomes a response. Internal failures are reported, never described. */
export function sendStsError(res: ServerResponse, failure: CertboundError, options: ResolvedStsOptions): void {
  if (failure.code === 'CB_INTERNAL') options.onEvent({ type: 'server.error', detail: failure.detail ?? 'unknown' });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // An oversized body is left unread: close the connection rather than drain it.
  const headers: Record<string, string> = failure.code === 'CB_REQUEST_TOO_LARGE' ? { connection: 'close' } : {};
  const oauthError = SUBJECT_TOKEN_CODES.has(failure.code) ? options.subjectTokenError : undefined;
  sendOAuthError(res, failure, { headers, ...(oauthError === undefined ? {} : { oauthError }) });
}
