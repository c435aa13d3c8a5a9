import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { readCertificateFacts, type CertificateFacts } from '../core/certificate.js';
import { computeThumbprint } from '../core/thumbprint.js';

/** The client certificate of one TLS connection, with what is derived from it computed once. */
export interface PeerCertificate {
  der: Buffer;
  /** RFC 8705 x5t#S256 of `der`. */
  thumbprint: string;
  /** Whether the TLS layer verified the certificate against the configured CA. */
  authorized: boolean;
  /** OpenSSL's reason when not authorized (e.g. CERT_HAS_EXPIRED). */
  authorizationError: string | undefined;
  /** Subject DN and SANs, parsed on first use. */
  facts(): CertificateFacts;
}

// One entry per TLS connection: the thumbprint is hashed once however many requests it carries.
const bySocket = new WeakMap<TLSSocket, PeerCertificate | null>();

/**
 * Parsed facts by thumbprint, across connections: parsing a certificate (@peculiar/x509) was
 * about half of the STS's CPU time per new connection, and clients reconnect with the same
 * certificate. The thumbprint is the SHA-256 of the DER, so equal keys mean equal certificates.
 */
const FACTS_CACHE_ENTRIES = 1024;
const factsByThumbprint = new Map<string, CertificateFacts>();

function factsOf(thumbprint: string, der: Buffer): CertificateFacts {
  let facts = factsByThumbprint.get(thumbprint);
  if (facts === undefined) {
    // Frozen: the same object now serves every connection with this certificate.
    const parsed = readCertificateFacts(der);
    for (const list of Object.values(parsed.san)) Object.freeze(list);
    facts = Object.freeze({ ...parsed, san: Object.freeze(parsed.san) });
    if (factsByThumbprint.size >= FACTS_CACHE_ENTRIES) factsByThumbprint.delete(factsByThumbprint.keys().next().value as string);
    factsByThumbprint.set(thumbprint, facts);
  }
  return facts;
}

/**
 * The client certificate presented on a request's TLS connection, or undefined when none was.
 * This is the only place certbound reads a peer certificate from a Node TLS socket.
 */
export function peerCertificateOf(req: IncomingMessage | Http2ServerRequest): PeerCertificate | undefined {
  // HTTP/2: req.socket is a per-stream proxy; the TLS socket belongs to the session, which is the
  // connection, so the cache key is that socket.
  const socket = (('stream' in req ? req.stream?.session?.socket : undefined) ?? req.socket) as TLSSocket;
  if (typeof socket?.getPeerCertificate !== 'function') return undefined;
  let cached = bySocket.get(socket);
  if (cached === undefined) {
    cached = readPeerCertificate(socket);
    bySocket.set(socket, cached);
  }
  return cached ?? undefined;
}

function readPeerCertificate(socket: TLSSocket): PeerCertificate | null {
  const raw = socket.getPeerCertificate(false)?.raw;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return null;
  let facts: CertificateFacts | undefined;
  const authorizationError = socket.authorizationError;
  const thumbprint = computeThumbprint(raw);
  return {
    der: raw,
    thumbprint,
    authorized: socket.authorized === true,
    authorizationError: authorizationError === null || authorizationError === undefined ? undefined : String(authorizationError),
    facts() {
      facts ??= factsOf(thumbprint, raw);
      return facts;
    },
  };
}
