import { X509Certificate } from 'node:crypto';
import { CertboundError } from '../errors.js';

/**
 * A URL-encoded PEM certificate, as proxies forward a verified client certificate: nginx
 * `$ssl_client_escaped_cert`, Envoy's XFCC `Cert=` and its ext_authz `source.certificate`.
 * @param what How the refusal names where the value came from.
 * @throws CertboundError CB_FORWARDED_CERT_MALFORMED when it is not URL-encoded or not a PEM certificate.
 */
export function parseUrlEncodedPem(value: string, what = 'client certificate header'): Buffer {
  let pem: string;
  try {
    pem = decodeURIComponent(value);
  } catch (cause) {
    throw malformed(`${what} is not URL-encoded`, cause);
  }
  // Leading whitespace is tolerated; OpenSSL would not find a BEGIN line indented by it.
  pem = pem.trimStart();
  if (!pem.startsWith('-----BEGIN CERTIFICATE-----')) throw malformed(`${what} is not a PEM certificate`);
  try {
    return new X509Certificate(pem).raw;
  } catch (cause) {
    throw malformed(`${what} is not a PEM certificate`, cause);
  }
}

function malformed(description: string, cause?: unknown): CertboundError {
  return new CertboundError('CB_FORWARDED_CERT_MALFORMED', { description, reason: 'malformed', ...(cause === undefined ? {} : { cause }) });
}
