import { X509Certificate } from 'node:crypto';
import { serializeByteSequence } from 'structured-headers';
import { computeSha256Hex } from '../../core/thumbprint.js';
import { DEFAULT_CERTIFICATE_HEADERS, type ForwardedCertificateFormat } from '../../http/trusted-proxy.js';

/** Which client certificate a case's connection presents: the token owner's, the other client's, or none. */
export type Presented = 'owner' | 'other' | 'none';

/** One request of the probe and the answer a server enforcing RFC 8705 must give. */
export interface ProbeCase {
  /** The row's label. */
  name: string;
  /** `accepted`: a 2xx. `refused`: anything else, a refused handshake included. */
  expect: 'accepted' | 'refused';
  certificate: Presented;
  /** Where the token goes: the Authorization header (RFC 6750 §2.1) or the query (§2.3). */
  token: 'authorization' | 'query';
  /** Request headers besides Authorization and Host. */
  headers: Readonly<Record<string, string>>;
}

/** The query parameter RFC 6750 §2.3 names; certbound never reads it (§5.3: URIs get logged). */
export const ACCESS_TOKEN_QUERY_PARAMETER = 'access_token';

/**
 * The certificate, in each form a TLS-terminating proxy forwards it (http/trusted-proxy.ts): what
 * a client forges to pose as the token's owner over its own connection.
 */
const FORGED: Readonly<Record<ForwardedCertificateFormat, { label: string; value: (certificate: X509Certificate) => string }>> = {
  // RFC 9440 §2.2: an sf-binary of the DER.
  rfc9440: { label: 'RFC 9440', value: (certificate) => serializeByteSequence(certificate.raw) },
  // Envoy: the hex SHA-256 of the DER and the URL-encoded PEM, which must agree.
  xfcc: {
    label: 'Envoy XFCC',
    value: (certificate) => `Hash=${computeSha256Hex(certificate.raw)};Cert="${encodeURIComponent(certificate.toString())}"`,
  },
  // nginx $ssl_client_escaped_cert.
  'pem-urlencoded': { label: 'nginx', value: (certificate) => encodeURIComponent(certificate.toString()) },
  // Traefik PassTLSClientCert: the base64 DER, no PEM delimiters.
  traefik: { label: 'Traefik', value: (certificate) => certificate.raw.toString('base64') },
};

/**
 * The eight cases, in order: the owner's certificate (accepted: else the probe proves nothing),
 * the other client's, none, the other client's with each forged certificate header naming the
 * owner's, and the token in the query string with the owner's certificate.
 *
 * @param ownerCertificate the PEM of the certificate the token is bound to (its first certificate).
 */
export function probeCases(ownerCertificate: string): ProbeCase[] {
  const owner = new X509Certificate(ownerCertificate);
  const forged = (Object.keys(FORGED) as ForwardedCertificateFormat[]).map((format): ProbeCase => ({
    name: `other certificate + forged ${DEFAULT_CERTIFICATE_HEADERS[format]} (${FORGED[format].label})`,
    expect: 'refused',
    certificate: 'other',
    token: 'authorization',
    headers: { [DEFAULT_CERTIFICATE_HEADERS[format]]: FORGED[format].value(owner) },
  }));
  return [
    { name: "owner's certificate", expect: 'accepted', certificate: 'owner', token: 'authorization', headers: {} },
    { name: 'other certificate', expect: 'refused', certificate: 'other', token: 'authorization', headers: {} },
    { name: 'no certificate', expect: 'refused', certificate: 'none', token: 'authorization', headers: {} },
    ...forged,
    {
      name: `token in ?${ACCESS_TOKEN_QUERY_PARAMETER}=, owner's certificate`,
      expect: 'refused',
      certificate: 'owner',
      token: 'query',
      headers: {},
    },
  ];
}
