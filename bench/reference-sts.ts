// The reference: the least a certificate-bound token endpoint can do. A bare node:https server
// with certbound's TLS settings that, for every POST, reads the body without looking at it,
// takes the SHA-256 thumbprint of the connection's client certificate (once per connection, as
// certbound does) and signs one ES256 JWT carrying it in cnf. No parsing, no policy, no subject
// token, no logging: whatever certbound's STS does beyond this is its own cost.
import { createHash, createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { serverTlsOptions, type ServerTlsOptions } from '../src/server/tls.js';

export interface ReferenceStsOptions {
  tls: ServerTlsOptions;
  /** ES256 private key (PEM) and its kid. */
  signingKeyPem: string;
  kid: string;
  issuer: string;
  audience: string;
}

const thumbprints = new WeakMap<TLSSocket, string | null>();

function thumbprintOf(socket: TLSSocket): string | null {
  let thumbprint = thumbprints.get(socket);
  if (thumbprint === undefined) {
    const raw = socket.authorized ? socket.getPeerCertificate(false)?.raw : undefined;
    thumbprint = raw === undefined || raw.length === 0 ? null : createHash('sha256').update(raw).digest('base64url');
    thumbprints.set(socket, thumbprint);
  }
  return thumbprint;
}

export function createReferenceSts(options: ReferenceStsOptions): Server {
  const key: KeyObject = createPrivateKey(options.signingKeyPem);
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: options.kid, typ: 'at+jwt' })).toString('base64url');
  const server = createServer(serverTlsOptions(options.tls), (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.once('end', () => {
      const thumbprint = thumbprintOf(req.socket as TLSSocket);
      if (req.method !== 'POST' || thumbprint === null) {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_request"}');
        return;
      }
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: options.issuer,
        sub: 'alice',
        aud: options.audience,
        client_id: 'alice',
        iat: now,
        exp: now + 3600,
        jti: randomUUID(),
        cnf: { 'x5t#S256': thumbprint },
      };
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
      const body = JSON.stringify({
        access_token: `${input}.${signature}`,
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        token_type: 'Bearer',
        expires_in: 3600,
      });
      res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) })
        .end(body);
    });
  });
  server.keepAliveTimeout = 5_000;
  return server;
}
