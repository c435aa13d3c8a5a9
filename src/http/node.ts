import { toCertboundError } from '../core/errors.js';
import type { VerifiedToken } from '../core/verify.js';
import { sendBearerChallenge } from '../server/respond.js';
import {
  authenticateRequest,
  challengeFor,
  checkAdapterOptions,
  resolveRequestAuthentication,
  type NodeRequest,
  type NodeResponse,
  type ProtectOptions,
} from './authenticate.js';

/**
 * Wrap a node:https or node:http2 request handler so it only runs for requests with a valid
 * token bound to the connection's certificate. Every refusal is a 401 (or 400/403) with
 * `WWW-Authenticate: Bearer`.
 *
 * @example
 * https.createServer({ ...tls, requestCert: true, rejectUnauthorized: false },
 *   protect((req, res, auth) => res.end(`hello ${auth.subject}`), { verifier }));
 * http2.createSecureServer({ ...tls, requestCert: true, rejectUnauthorized: false },
 *   protect((req, res, auth) => res.end(`hello ${auth.subject}`), { verifier }));
 */
export function protect<Req extends NodeRequest, Res extends NodeResponse>(
  handler: (req: Req, res: Res, auth: VerifiedToken) => void | Promise<void>,
  options: ProtectOptions<Req>,
): (req: Req, res: Res) => void {
  const resolved = resolveRequestAuthentication(options);
  checkAdapterOptions(options);
  return (req, res) => {
    authenticateRequest(req, resolved)
      .then(
        (auth) => {
          options.onEvent?.({ type: 'request.allowed', token: auth, request: req });
          return handler(req, res, auth);
        },
        (error: unknown) => {
          const failure = toCertboundError(error);
          options.onEvent?.({ type: 'request.refused', error: failure, request: req });
          sendBearerChallenge(res, failure, challengeFor(failure, options));
        },
      )
      .catch((error: unknown) => {
        // The wrapped handler failed: answer 500 if nothing was sent yet, never a stack.
        options.onEvent?.({ type: 'request.failed', error: toCertboundError(error), request: req });
        if (!res.headersSent) sendBearerChallenge(res, toCertboundError(error));
      });
  };
}
