import { LRUCache } from 'lru-cache';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { readCertificateFacts, type CertificateFacts } from '../core/certificate/facts.js';
import type { PresentedCertificate } from '../core/client-authentication.js';
import { CertboundError } from '../core/errors.js';
import { computeThumbprint } from '../core/thumbprint.js';
import { DEFAULTS } from '../defaults.js';

/**
 * The client certificate of one TLS connection, with what is derived from it computed once.
 * `facts()` parses names only for a CA-verified certificate, on first use.
 */
export interface PeerCertificate extends PresentedCertificate {
  der: Buffer;
}

// One entry per TLS connection: the thumbprint is hashed once however many requests it carries.
const bySocket = new WeakMap<TLSSocket, PeerCertificate | null>();

/**
 * Parsed facts by thumbprint, across connections: parsing a certificate (its ASN.1) was
 * about half of the STS's CPU time per new connection, and clients reconnect with the same
 * certificate. The thumbprint is the SHA-256 of the DER, so equal keys mean equal certificates.
 */
const FACTS_CACHE_ENTRIES = DEFAULTS.verification.certificateFactsEntries;
const factsByThumbprint = new LRUCache<string, CertificateFacts>({ max: FACTS_CACHE_ENTRIES });

function factsOf(thumbprint: string, der: Buffer): CertificateFacts {
  let facts = factsByThumbprint.get(thumbprint);
  if (facts === undefined) {
    // Frozen: the same object now serves every connection with this certificate.
    const parsed = readCertificateFacts(der);
    for (const list of Object.values(parsed.san)) Object.freeze(list);
    facts = Object.freeze({ ...parsed, san: Object.freeze(parsed.san) });
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
  const peer = socket.getPeerCertificate(false);
  const raw = peer?.raw;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return null;
  const authorizationError = socket.authorizationError;
  const thumbprint = computeThumbprint(raw);
  const authorized = socket.authorized === true;
  // OpenSSL read the validity period during the handshake; no name is parsed to know it.
  const notBefore = Date.parse(peer.valid_from);
  const notAfter = Date.parse(peer.valid_to);
  let facts: CertificateFacts | CertboundError | undefined;
  return {
    der: raw,
    thumbprint,
    authorized,
    authorizationError: authorizationError === null || authorizationError === undefined ? undefined : String(authorizationError),
    notBefore,
    notAfter,
    facts() {
      // Judged before read: the names of a certificate no CA verified are never parsed.
      facts ??= authorized ? parsedFacts(thumbprint, raw) : namelessFacts(thumbprint, notBefore, notAfter);
      if (facts instanceof CertboundError) throw facts;
      return facts;
    },
  };
}

/** A CA-verified certificate's facts, or the refusal for one whose names do not parse. */
function parsedFacts(thumbprint: string, der: Buffer): CertificateFacts | CertboundError {
  try {
    return factsOf(thumbprint, der);
  } catch (error) {
    return new CertboundError('CB_CLIENT_UNAUTHENTICATED', {
      description: 'client certificate names cannot be read',
      detail: `${error instanceof Error ? error.message : String(error)} x5t#S256=${thumbprint}`,
      reason: 'malformed',
    });
  }
}

const NO_NAMES = Object.freeze({
  dns: Object.freeze([]),
  uri: Object.freeze([]),
  ip: Object.freeze([]),
  email: Object.freeze([]),
}) as unknown as CertificateFacts['san'];

/** What a certificate no CA verified may be matched on: its thumbprint, never its names. */
function namelessFacts(thumbprint: string, notBefore: number, notAfter: number): CertificateFacts {
  return Object.freeze({ thumbprint, subjectDn: '', san: NO_NAMES, spiffeId: undefined, notBefore, notAfter });
}
