import type { ServerInterceptingCallInterface } from '@grpc/grpc-js';
import { computeThumbprint } from '../core/thumbprint.js';

/**
 * The x5t#S256 of the client certificate on a gRPC call's TLS connection, or undefined when there
 * is none. grpc-js fills `sslPeerCertificate` only when the TLS layer verified the certificate
 * against the server's CA (server-interceptors.ts), so an unverified certificate never counts.
 * This is the gRPC counterpart of server/peer-certificate.ts and the only place gRPC reads one.
 */
export function peerThumbprintOf(call: Pick<ServerInterceptingCallInterface, 'getAuthContext'>): string | undefined {
  const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
  return Buffer.isBuffer(raw) && raw.length > 0 ? computeThumbprint(raw) : undefined;
}
