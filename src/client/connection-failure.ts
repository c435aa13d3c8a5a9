// What went wrong when a connection to a server failed, in words a person can act on. Node and
// undici report these as an error code somewhere down a `cause` chain (fetch failed <- ...).

export type ConnectionFailureKind =
  | 'untrusted-certificate'
  | 'expired-certificate'
  | 'name-mismatch'
  | 'closed-in-handshake'
  | 'closed-before-answer'
  | 'not-tls'
  | 'connection-refused'
  | 'unknown-host'
  | 'timeout';

export interface ConnectionFailure {
  kind: ConnectionFailureKind;
  /** What happened, to follow "STS https://host:port": `presented a certificate not issued by a trusted CA (SELF_SIGNED_CERT_IN_CHAIN)`. */
  summary: string;
  /** The code it was recognised by. */
  code: string;
}

/** OpenSSL's verification errors that mean: not issued by a CA we were told to trust. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const TIMEOUT = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ABORT_ERR', 'TimeoutError']);

function summaryOf(kind: ConnectionFailureKind, code: string, error: Error & { host?: string }): string {
  switch (kind) {
    case 'untrusted-certificate':
      return `presented a certificate not issued by a trusted CA (${code})`;
    case 'expired-certificate':
      return code === 'CERT_NOT_YET_VALID' ? 'presented a certificate that is not valid yet' : 'presented an expired certificate';
    case 'name-mismatch':
      return `presented a certificate for other names (${error.message.replace(/^Hostname\/IP does not match certificate's altnames: /, '')})`;
    case 'closed-in-handshake':
      return `closed the connection during the TLS handshake (${code}), as a server that does not accept the client certificate does`;
    case 'closed-before-answer':
      // TLS 1.3 servers check the client certificate after the handshake: a refusal arrives as a close.
      return `closed the connection without answering (${code}), as a server that does not accept the client certificate does`;
    case 'not-tls':
      return `does not speak TLS on that port (${code})`;
    case 'connection-refused':
      return 'refused the connection: nothing listens there';
    case 'unknown-host':
      return `has a host name that does not resolve (${code})`;
    case 'timeout':
      return `did not answer in time (${code})`;
  }
}

function kindOf(code: string, message: string): ConnectionFailureKind | undefined {
  if (UNTRUSTED.has(code)) return 'untrusted-certificate';
  if (EXPIRED.has(code)) return 'expired-certificate';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'name-mismatch';
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') return 'not-tls';
  if (code === 'ECONNRESET' && message.includes('before secure TLS connection was established')) return 'closed-in-handshake';
  if (code === 'UND_ERR_SOCKET' && message === 'other side closed') return 'closed-before-answer';
  if (code === 'ECONNREFUSED') return 'connection-refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unknown-host';
  if (TIMEOUT.has(code)) return 'timeout';
  return undefined;
}

/** The first recognised failure down `error`'s cause chain, or undefined. */
export function connectionFailureOf(error: unknown): ConnectionFailure | undefined {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 6; depth++) {
    const code = (current as NodeJS.ErrnoException).code ?? current.name;
    const kind = kindOf(code, current.message);
    if (kind !== undefined) return { kind, code, summary: summaryOf(kind, code, current) };
    current = current.cause;
  }
  return undefined;
}
