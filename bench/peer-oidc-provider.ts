// The peer: oidc-provider (panva/node-oidc-provider 8.x, the line that supports Node 20 and 24)
// as an RFC 8705 token endpoint: client_credentials, tls_client_auth (the client authenticated
// by its CA-verified certificate and subject DN), certificate-bound (cnf x5t#S256) JWT access
// tokens for one resource indicator (RFC 8707), signed ES256 with the same key as certbound's
// STS. It runs on a node:https server with certbound's TLS settings, in its own process
// (bench/serve.ts), and is measured with the same load generator.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import Provider, { errors } from 'oidc-provider';
import { serverTlsOptions, type ServerTlsOptions } from '../src/server/tls.js';

export interface PeerOptions {
  tls: ServerTlsOptions;
  signingKeyPem: string;
  kid: string;
  issuer: string;
  audience: string;
  /** The certificate alice authenticates with (PEM): its subject DN is her registration. */
  clientCertificatePem: string;
}

/** The client certificate of a request's connection, parsed once per connection. */
const certificates = new WeakMap<TLSSocket, X509Certificate | null>();

function certificateOf(socket: TLSSocket): X509Certificate | undefined {
  let certificate = certificates.get(socket);
  if (certificate === undefined) {
    const raw = socket.getPeerCertificate(false)?.raw;
    certificate = raw === undefined || raw.length === 0 ? null : new X509Certificate(raw);
    certificates.set(socket, certificate);
  }
  return certificate ?? undefined;
}

type KoaContext = { req: IncomingMessage };
const socketOf = (ctx: KoaContext): TLSSocket => ctx.req.socket as TLSSocket;

export function createPeerServer(options: PeerOptions): Server {
  const jwk = createPrivateKey(options.signingKeyPem).export({ format: 'jwk' });
  const subjectDn = new X509Certificate(options.clientCertificatePem).subject;
  const resourceServer = {
    scope: 'read write',
    audience: options.audience,
    accessTokenTTL: 3600,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES256' } },
  };
  const provider = new Provider(options.issuer, {
    clients: [
      {
        client_id: 'alice',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: subjectDn,
        tls_client_certificate_bound_access_tokens: true,
        scope: 'read write',
        // The provider's only key is ES256; the default (RS256) would have no key.
        id_token_signed_response_alg: 'ES256',
      },
    ],
    clientAuthMethods: ['tls_client_auth'],
    jwks: { keys: [{ ...jwk, kid: options.kid, alg: 'ES256', use: 'sig' }] },
    scopes: ['read', 'write'],
    cookies: { keys: ['bench-only, no interactive flows are used'] },
    ttl: { ClientCredentials: 3600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        getCertificate: (ctx: KoaContext) => certificateOf(socketOf(ctx)),
        certificateAuthorized: (ctx: KoaContext) => socketOf(ctx).authorized === true,
        certificateSubjectMatches: (ctx: KoaContext, property: string, expected: string) =>
          property === 'tls_client_auth_subject_dn' && certificateOf(socketOf(ctx))?.subject === expected,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource !== options.audience) throw new errors.InvalidTarget();
          return resourceServer;
        },
      },
    },
  });
  const server = createServer(serverTlsOptions(options.tls), provider.callback());
  server.keepAliveTimeout = 5_000;
  return server;
}
