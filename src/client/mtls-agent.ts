import { Agent } from 'undici';
import * as v from 'valibot';
import { isPlainObject, parseOptions } from '../core/schema.js';
import { DEFAULTS } from '../defaults.js';

export interface ClientTlsOptions {
  /** CA bundle the server certificate must chain to (PEM); system CAs when absent. */
  ca?: string | Buffer;
  /** This client's certificate (chain) and private key (PEM): the certificate tokens bind to. */
  cert: string | Buffer;
  key: string | Buffer;
  /** Name to verify the server certificate against (and send as SNI), when it differs from the URL host. */
  servername?: string;
}

const PROBLEM = '"tls" must give the client certificate "cert" and private key "key"';
const isPem = (value: unknown): boolean => (typeof value === 'string' && value.length > 0) || Buffer.isBuffer(value);
const CLIENT_TLS = v.custom<ClientTlsOptions>((tls) => isPlainObject(tls) && isPem(tls.cert) && isPem(tls.key), PROBLEM);

/**
 * An undici Agent that presents the client certificate on every connection. Use the same agent
 * (or one built from the same certificate) for the STS and for the resource: that is the binding.
 * Server certificates are always verified; there is no option to turn that off.
 */
export function createMtlsAgent(tls: ClientTlsOptions): Agent {
  parseOptions(CLIENT_TLS, tls, 'tls');
  return new Agent({
    connect: {
      cert: tls.cert,
      key: tls.key,
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.servername === undefined ? {} : { servername: tls.servername }),
      minVersion: DEFAULTS.server.tlsMinVersion,
    },
  });
}
