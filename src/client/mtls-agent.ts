import { createSecureContext, type SecureContext } from 'node:tls';
import { Agent } from 'undici';
import * as v from 'valibot';
import { isPlainObject, parseOptions } from '../core/schema.js';
import { isEngineKey, keyContextOptions, type TlsKey } from '../core/tls-key.js';
import { DEFAULTS } from '../defaults.js';

export interface ClientTlsOptions {
  /** CA bundle the server certificate must chain to (PEM); system CAs when absent. */
  ca?: string | Buffer;
  /**
   * This client's certificate (chain) and private key: the certificate tokens bind to. The key is
   * PEM, or a key that stays in a PKCS#11 token (`openPkcs11TlsKey` from certbound/keys).
   */
  cert: string | Buffer;
  key: TlsKey;
  /** Name to verify the server certificate against (and send as SNI), when it differs from the URL host. */
  servername?: string;
}

const PROBLEM = '"tls" must give the client certificate "cert" and private key "key" (PEM, or a key from openPkcs11TlsKey)';
const isPem = (value: unknown): boolean => (typeof value === 'string' && value.length > 0) || Buffer.isBuffer(value);
const CLIENT_TLS = v.custom<ClientTlsOptions>(
  (tls) => isPlainObject(tls) && isPem(tls.cert) && (isPem(tls.key) || isEngineKey(tls.key)),
  PROBLEM,
);

/**
 * An undici Agent that presents the client certificate on every connection. Use the same agent
 * (or one built from the same certificate) for the STS and for the resource: that is the binding.
 * Server certificates are always verified; there is no option to turn that off.
 */
export function createMtlsAgent(tls: ClientTlsOptions): Agent {
  checkClientTls(tls);
  const servername = tls.servername === undefined ? {} : { servername: tls.servername };
  // A key in a token is loaded into one secure context, not once per connection.
  if (isEngineKey(tls.key)) return new Agent({ connect: { secureContext: clientSecureContext(tls), ...servername } });
  return new Agent({
    connect: {
      cert: tls.cert,
      key: tls.key,
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...servername,
      minVersion: DEFAULTS.server.tlsMinVersion,
    },
  });
}

/** @throws ConfigError naming `tls` when it lacks a certificate or key. */
export function checkClientTls(tls: ClientTlsOptions): void {
  parseOptions(CLIENT_TLS, tls, 'tls');
}

/** The client's TLS material as one secure context (for gRPC channels and keys in tokens). */
export function clientSecureContext(tls: ClientTlsOptions): SecureContext {
  return createSecureContext({
    cert: tls.cert,
    ...keyContextOptions(tls.key),
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    minVersion: DEFAULTS.server.tlsMinVersion,
  });
}
