import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { toCertboundError } from '../core/errors.js';
import type { VerifiedToken } from '../core/verify.js';
import {
  authenticateRequest,
  challengeFor,
  checkAdapterOptions,
  resolveRequestAuthentication,
  type ProtectOptions,
} from './authenticate.js';
import { sendBearerChallenge } from '../server/respond.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The verified certificate-bound token, set by certbound's middleware. */
    certbound?: VerifiedToken;
  }
}

export type ExpressCertboundOptions = ProtectOptions<Request>;

/**
 * Express middleware that admits a request only with a valid token bound to the client
 * certificate of its TLS connection (or the one a trusted proxy forwarded), and sets
 * `req.certbound`. Refusals are the same 401/400/403 challenges as every certbound adapter. For
 * per-route scopes, mount a second middleware with other `requiredScopes` on those routes (or on
 * a Router). Serve the app with node:https: Express 5 does not run on node:http2, even with
 * `allowHTTP1` (it replaces the request's prototype with node:http's).
 *
 * @example
 * const app = express();
 * const certbound = createExpressMiddleware({ verifier });
 * app.get('/orders', certbound, (req, res) => res.json({ subject: req.certbound?.subject }));
 * app.post('/orders', createExpressMiddleware({ verifier, requiredScopes: ['write'] }), handler);
 * https.createServer({ key, cert, ca, requestCert: true, rejectUnauthorized: false }, app).listen(8443);
 */
export function createExpressMiddleware(options: ExpressCertboundOptions): RequestHandler {
  const resolved = resolveRequestAuthentication(options);
  checkAdapterOptions(options);
  return (req: Request, res: Response, next: NextFunction) => {
    authenticateRequest(req, resolved)
      .then(
        (verified) => {
          req.certbound = verified;
          options.onEvent?.({ type: 'request.allowed', token: verified, request: req });
          next();
        },
        (error: unknown) => {
          const failure = toCertboundError(error);
          options.onEvent?.({ type: 'request.refused', error: failure, request: req });
          sendBearerChallenge(res, failure, challengeFor(failure, options));
        },
      )
      .catch(next); // a failure to answer goes to Express's error handling, not an unhandled rejection
  };
}
