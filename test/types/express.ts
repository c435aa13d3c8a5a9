// certbound/express: the middleware, and `req.certbound` declared on Express's Request.
import express, { type Request, type RequestHandler } from 'express';
import type { BoundTokenVerifier, CertboundError, VerifiedToken } from 'certbound';
import { createExpressMiddleware, type ExpressCertboundOptions } from 'certbound/express';
import { expectType, type Equal } from './assert.js';

declare const verifier: BoundTokenVerifier;

const certbound = createExpressMiddleware({
  verifier,
  requiredScopes: ['read'],
  onEvent: (event) => {
    expectType<Equal<typeof event.request, Request>>();
    if (event.type === 'request.allowed') expectType<Equal<typeof event.token, VerifiedToken>>();
    else expectType<Equal<typeof event.error, CertboundError>>();
  },
});
expectType<Equal<typeof certbound, RequestHandler>>();

const app = express();
app.get('/orders', certbound, (req, res) => {
  expectType<Equal<typeof req.certbound, VerifiedToken | undefined>>();
  res.json({ subject: req.certbound?.subject });
});
const router = express.Router();
router.use(createExpressMiddleware({ verifier, requiredScopes: ['write'] }));
router.post('/orders/:id', (req, res) => {
  expectType<Equal<typeof req.params, { id: string }>>();
  const token: VerifiedToken | undefined = req.certbound;
  res.json({ id: req.params.id, client: token?.clientId });
});
app.use('/v1', router);

// @ts-expect-error the decoration is a VerifiedToken, not a string
app.get('/bad', (req) => req.certbound?.toUpperCase());
// @ts-expect-error `verifier` is required
createExpressMiddleware({ requiredScopes: ['read'] });
createExpressMiddleware({
  verifier,
  // @ts-expect-error `scopes` is not an option (it is requiredScopes)
  scopes: ['read'],
});
// @ts-expect-error onEvent is told an event, never the raw token
createExpressMiddleware({ verifier, onEvent: (token: string) => void token });
const options: ExpressCertboundOptions = { verifier, resourceMetadataUrl: 'https://api.example/.well-known/oauth-protected-resource' };
void options;
