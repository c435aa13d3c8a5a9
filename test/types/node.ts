// certbound/node: protect() on node:https and node:http2, and authenticateRequest for frameworks.
import { createServer as createHttpsServer } from 'node:https';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BoundTokenVerifier, VerifiedToken } from 'certbound';
import {
  authenticateRequest,
  createLimitedHttpsServer,
  loadJwksSource,
  protect,
  protectedResourceMetadata,
  serverTlsOptions,
  type ManagedServer,
  type NodeRequest,
  type NodeResponse,
  type ProtectOptions,
} from 'certbound/node';
import { expectType, type Equal } from './assert.js';

declare const verifier: BoundTokenVerifier;
const tls = { ca: '', cert: '', key: '' };

// Without annotations the handler takes either kind of request, and serves both servers.
const handler = protect(
  (req, res, auth) => {
    expectType<Equal<typeof req, NodeRequest>>();
    expectType<Equal<typeof res, NodeResponse>>();
    expectType<Equal<typeof auth, VerifiedToken>>();
    res.end(auth.subject);
  },
  { verifier, requiredScopes: ['read'] },
);
createHttpsServer(serverTlsOptions(tls), handler);
createSecureServer({ ...serverTlsOptions(tls), allowHTTP1: true }, handler);
// Annotated, it keeps the server's own request and response types.
const https = protect(
  (req: IncomingMessage, res: ServerResponse, auth) => {
    void req.socket;
    res.end(auth.subject);
  },
  { verifier },
);
expectType<Equal<typeof https, (req: IncomingMessage, res: ServerResponse) => void>>();
createHttpsServer(serverTlsOptions(tls), https);
createSecureServer(
  serverTlsOptions(tls),
  protect(
    async (req: Http2ServerRequest, res: Http2ServerResponse) => {
      void req.stream;
      res.end();
    },
    { verifier },
  ),
);
// @ts-expect-error `realm` is a string
protect(() => {}, { verifier, realm: 42 });
protect(() => {}, {
  verifier,
  // @ts-expect-error `trustedProxies` is a typo of trustedProxy
  trustedProxies: { addresses: ['127.0.0.1'], format: 'xfcc' },
});

declare const req: NodeRequest;
const verified = await authenticateRequest(req, { verifier });
expectType<Equal<typeof verified, VerifiedToken>>();

const managed = createLimitedHttpsServer(tls, {}, () => {});
expectType<Equal<typeof managed, ManagedServer>>();
expectType<Equal<ReturnType<ManagedServer['listen']>, Promise<URL>>>();
const keys = await loadJwksSource('https://sts.example/jwks');
void keys;
void protectedResourceMetadata;
const options: ProtectOptions = {
  verifier,
  onEvent: (event) => void (event.type === 'request.allowed' ? event.token.subject : event.error.code),
};
void options;
