import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBearerAuthorization } from '../core/bearer.js';
import { CertboundError, toCertboundError } from '../core/errors.js';
import { requireScopes, type BoundTokenVerifier, type VerifiedToken } from '../core/verify.js';
import { peerCertificateOf } from './peer-certificate.js';
import { sendBearerChallenge } from './respond.js';

export interface RequestAuthenticationOptions {
  verifier: BoundTokenVerifier;
  /**
   * Require the TLS layer to have verified the client certificate against the server's CA
   * (default true). The binding alone proves possession of the key; the CA check also refuses
   * certificates from anyone else.
   */
  requireTrustedCertificate?: boolean;
  /** Scopes the token must carry; otherwise 403 insufficient_scope (RFC 6750 §3.1). */
  requiredScopes?: readonly string[];
}

/**
 * Verify the bound access token on a node:https request: the Bearer token from the
 * Authorization header, checked against the client certificate of this very TLS connection.
 * Tokens in the query string or form body are never read: URLs end up in logs (RFC 6750 §5.3).
 * @throws CertboundError
 */
export async function authenticateRequest(req: IncomingMessage, options: RequestAuthenticationOptions): Promise<VerifiedToken> {
  const token = parseBearerAuthorization(req.headersDistinct.authorization);
  const certificate = peerCertificateOf(req);
  if (certificate !== undefined && !certificate.authorized && options.requireTrustedCertificate !== false) {
    throw new CertboundError('CB_CLIENT_CERT_UNTRUSTED', {
      description: 'client certificate was not issued by a trusted CA or is not valid',
      detail: `${certificate.authorizationError ?? 'unverified'} x5t#S256=${certificate.thumbprint}`,
      reason: 'not_allowed',
    });
  }
  const verified = await options.verifier.verify(token, certificate?.thumbprint);
  if (options.requiredScopes !== undefined) requireScopes(verified, options.requiredScopes);
  return verified;
}

export interface ProtectOptions extends RequestAuthenticationOptions {
  /** RFC 6750 §3 realm for challenges. */
  realm?: string;
  /** Called with every refusal (no token in it), for logs. */
  onRefused?: (error: CertboundError, req: IncomingMessage) => void;
}

/**
 * Wrap a node:https request handler so it only runs for requests with a valid token bound to the
 * connection's certificate. Every refusal is a 401 (or 400/403) with `WWW-Authenticate: Bearer`.
 *
 * @example
 * https.createServer({ ...tls, requestCert: true, rejectUnauthorized: false },
 *   protect((req, res, auth) => res.end(`hello ${auth.subject}`), { verifier }));
 */
export function protect(
  handler: (req: IncomingMessage, res: ServerResponse, auth: VerifiedToken) => void | Promise<void>,
  options: ProtectOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  if (typeof options?.verifier?.verify !== 'function') throw new TypeError('"verifier" must come from createBoundTokenVerifier()');
  return (req, res) => {
    authenticateRequest(req, options).then(
      (auth) => handler(req, res, auth),
      (error: unknown) => {
        const failure = toCertboundError(error);
        options.onRefused?.(failure, req);
        sendBearerChallenge(res, failure, {
          ...(options.realm === undefined ? {} : { realm: options.realm }),
          ...(failure.code === 'CB_SCOPE_INSUFFICIENT' && options.requiredScopes !== undefined ? { scope: options.requiredScopes.join(' ') } : {}),
        });
      },
    ).catch((error: unknown) => {
      // The wrapped handler failed: answer 500 if nothing was sent yet, never a stack.
      options.onRefused?.(toCertboundError(error), req);
      if (!res.headersSent) sendBearerChallenge(res, toCertboundError(error));
    });
  };
}
