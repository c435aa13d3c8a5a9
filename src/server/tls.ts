import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { keyContextOptions, type TlsKey } from '../core/tls-key.js';
import { DEFAULTS } from '../defaults.js';

export interface ServerTlsOptions {
  /** CA bundle client certificates are verified against (PEM). */
  ca: string | Buffer;
  /** The server's own certificate (chain) and private key: PEM, or a key in a token (`openPkcs11TlsKey`). */
  cert: string | Buffer;
  key: TlsKey;
  /**
   * Certificate revocation lists (PEM), one per CA that issues client certificates. With a CRL,
   * a revoked client certificate fails verification; so does one whose CA has no CRL here.
   */
  crl?: string | Buffer | Array<string | Buffer>;
}

/** The oldest TLS version any certbound server accepts, whatever the runtime's default. */
export const TLS_MIN_VERSION = DEFAULTS.server.tlsMinVersion;

/**
 * The server's secure context: TLS material plus the settings that must survive a reload. The one
 * place it is built, at start-up and for every reload (Node's setSecureContext resets every
 * setting it is not given, the TLS floor included).
 */
export function serverSecureContext(tls: ServerTlsOptions): SecureContextOptions {
  return {
    ca: tls.ca,
    cert: tls.cert,
    ...keyContextOptions(tls.key),
    minVersion: TLS_MIN_VERSION,
    ...(tls.crl === undefined ? {} : { crl: tls.crl }),
  };
}

/**
 * TLS settings shared by certbound's servers: TLS 1.2 or later, client certificate requested and
 * verified against the CA, but not enforced at the handshake, so that public endpoints stay
 * reachable and a missing or untrusted certificate gets a clear HTTP answer, not a dropped
 * connection. Handlers check `authorized` themselves (see peer-certificate.ts). A handshake that
 * has not finished after the default handshake timeout is dropped.
 */
export function serverTlsOptions(tls: ServerTlsOptions): TlsOptions & { requestCert: true; rejectUnauthorized: false } {
  return {
    ...serverSecureContext(tls),
    requestCert: true,
    rejectUnauthorized: false,
    handshakeTimeout: DEFAULTS.server.handshakeTimeoutMs,
  };
}
