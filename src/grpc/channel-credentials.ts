import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { clientSecureContext, type ClientTlsOptions } from '../client/mtls-agent.js';
import { isEngineKey } from '../core/tls-key.js';

/**
 * mTLS channel credentials presenting the client certificate. A key in a PKCS#11 token goes in
 * through a Node secure context (grpc-js's createSsl takes PEM only); the server certificate is
 * verified either way.
 */
export function mtlsChannelCredentials(tls: ClientTlsOptions): ChannelCredentials {
  if (isEngineKey(tls.key)) return credentials.createFromSecureContext(clientSecureContext(tls));
  return credentials.createSsl(tls.ca === undefined ? null : Buffer.from(tls.ca), Buffer.from(tls.key), Buffer.from(tls.cert));
}
