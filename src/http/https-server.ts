import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';

export interface ServerTlsOptions {
  /** CA bundle client certificates are verified against (PEM). */
  ca: string | Buffer;
  /** The server's own certificate (chain) and private key (PEM). */
  cert: string | Buffer;
  key: string | Buffer;
}

/**
 * TLS settings shared by certbound's servers: TLS 1.2 or later, client certificate requested and
 * verified against the CA, but not enforced at the handshake, so that public endpoints stay
 * reachable and a missing or untrusted certificate gets a clear HTTP answer, not a dropped
 * connection. Handlers check `authorized` themselves (see peer-certificate.ts).
 */
export function serverTlsOptions(tls: ServerTlsOptions): SecureContextOptions & { requestCert: true; rejectUnauthorized: false } {
  return { ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', requestCert: true, rejectUnauthorized: false };
}

export interface ManagedServer {
  server: HttpsServer;
  /** Listen on host:port (default 127.0.0.1:0) and resolve to the base URL. */
  listen(port?: number, host?: string): Promise<URL>;
  /** Stop accepting, let in-flight requests finish, close idle keep-alive connections. */
  close(): Promise<void>;
  /** Drop every connection now (after a drain deadline has passed). */
  forceClose(): void;
}

/** listen/close as promises, for every certbound HTTPS server. */
export function manageServer(server: HttpsServer): ManagedServer {
  return {
    server,
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(new URL(`https://${hostPart}:${address.port}`));
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
    forceClose() {
      server.closeAllConnections();
    },
  };
}
