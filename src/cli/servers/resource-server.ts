import { CertboundError } from '../../core/errors.js';
import { HEALTH_PATH } from '../../core/rfc.js';
import type { BoundTokenVerifier } from '../../core/verify.js';
import type { TrustedProxyOptions } from '../../http/forwarded-certificate.js';
import { createLimitedHttpsServer, type ManagedServer } from '../../server/https-server.js';
import { requestIdOf } from '../../server/request-id.js';
import { type ServerLimits } from '../../config/limits.js';
import { type ServerTlsOptions } from '../../server/tls.js';
import { protect } from '../../http/node.js';
import { protectedResourceMetadata, resourceMetadataUrl } from '../../http/resource-metadata.js';
import { sendJson, sendOAuthError } from '../../server/respond.js';
import { DEFAULTS } from '../../defaults.js';

export type ResourceEvent = (
  | { type: 'request.allowed'; subject: string; clientId: string | undefined; thumbprint: string }
  | { type: 'request.refused'; code: string; description: string; detail?: string }
) & { requestId?: string };

export interface ResourceServerOptions {
  tls: ServerTlsOptions;
  verifier: BoundTokenVerifier;
  realm?: string;
  /** Scopes `GET /` requires (403 insufficient_scope otherwise). */
  requiredScopes?: readonly string[];
  /** Take client certificates from a header set by these TLS-terminating proxies. */
  trustedProxy?: TrustedProxyOptions;
  /**
   * RFC 9728 metadata served at /.well-known/oauth-protected-resource[/path] and named in
   * challenges: the resource identifier (an https URL, usually the audience) and token issuers.
   */
  metadata?: { resource: string; authorizationServers: readonly string[]; scopes?: readonly string[] };
  /** Timeouts, header size and the load-shedding threshold. */
  limits?: ServerLimits;
  onEvent?: (event: ResourceEvent) => void;
}

/**
 * The `certbound resource` server: `GET /` answers, for a valid certificate-bound token, with the
 * verified subject; `GET /healthz` and the RFC 9728 metadata are public. Mostly an example of
 * `protect()`.
 */
export function createResourceServer(options: ResourceServerOptions): ManagedServer {
  const onEvent = options.onEvent ?? (() => {});
  const metadataDocument = options.metadata === undefined ? undefined : protectedResourceMetadata(options.metadata);
  const metadataUrl = options.metadata === undefined ? undefined : resourceMetadataUrl(options.metadata.resource);
  const metadataPath = metadataUrl === undefined ? undefined : new URL(metadataUrl).pathname;
  const guarded = protect(
    (_req, res, auth) => {
      sendJson(res, 200, {
        message: `hello ${auth.subject}`,
        subject: auth.subject,
        client_id: auth.clientId ?? null,
        scope: auth.scopes.join(' '),
        'x5t#S256': auth.thumbprint,
      });
    },
    {
      verifier: options.verifier,
      ...(options.realm === undefined ? {} : { realm: options.realm }),
      ...(options.requiredScopes === undefined ? {} : { requiredScopes: options.requiredScopes }),
      ...(options.trustedProxy === undefined ? {} : { trustedProxy: options.trustedProxy }),
      ...(metadataUrl === undefined ? {} : { resourceMetadataUrl: metadataUrl }),
      onEvent: (event) => {
        if (event.type === 'request.allowed') {
          onEvent({
            type: 'request.allowed',
            subject: event.token.subject,
            clientId: event.token.clientId,
            thumbprint: event.token.thumbprint,
            ...idOf(event.request),
          });
          return;
        }
        const { error } = event;
        onEvent({
          type: 'request.refused',
          code: error.code,
          description: error.description,
          ...(error.detail === undefined ? {} : { detail: error.detail }),
          ...idOf(event.request),
        });
      },
    },
  );
  return createLimitedHttpsServer(options.tls, options.limits ?? {}, (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const read = req.method === 'GET' || req.method === 'HEAD';
    if (path === HEALTH_PATH && read) {
      sendJson(res, 200, { status: 'ok' });
    } else if (metadataDocument !== undefined && path === metadataPath && read) {
      sendJson(res, 200, metadataDocument, { 'cache-control': `max-age=${DEFAULTS.verification.resourceMetadataMaxAgeSeconds}` });
    } else if (path === '/' && read) {
      guarded(req, res);
    } else {
      const known = path === '/' || path === HEALTH_PATH || (metadataPath !== undefined && path === metadataPath);
      if (known)
        sendOAuthError(res, new CertboundError('CB_METHOD_NOT_ALLOWED', { description: 'use GET' }), { headers: { allow: 'GET, HEAD' } });
      else sendOAuthError(res, new CertboundError('CB_NOT_FOUND', { description: 'no such endpoint' }));
    }
  });
}

/** `{ requestId }` of a request that has one (every request of createLimitedHttpsServer). */
function idOf(req: object): { requestId?: string } {
  const requestId = requestIdOf(req);
  return requestId === undefined ? {} : { requestId };
}
