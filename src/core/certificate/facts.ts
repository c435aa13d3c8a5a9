import 'reflect-metadata'; // @peculiar/x509 resolves its ASN.1 providers through tsyringe, which needs it.
import { SubjectAlternativeNameExtension, X509Certificate } from '@peculiar/x509';
import { parseSpiffeId } from '../spiffe.js';
import { computeThumbprint } from '../thumbprint.js';

/**
 * What policy may match a client certificate on: the facts RFC 8705 §2.1.2 registers
 * (subject DN and SANs) plus the thumbprint. Computed once per TLS connection.
 */
export interface CertificateFacts {
  thumbprint: string;
  /**
   * Subject DN in the certificate's own RDN order, as @peculiar/x509 and `openssl x509 -subject`
   * print it (e.g. `CN=alice, O=certbound dev`): the reverse of RFC 4514's string order.
   */
  subjectDn: string;
  san: {
    dns: string[];
    uri: string[];
    ip: string[];
    email: string[];
  };
  /**
   * The SPIFFE ID of an X509-SVID: set only when the certificate has exactly one URI SAN and it is
   * a valid SPIFFE ID (X509-SVID §2).
   */
  spiffeId: string | undefined;
  /** Validity period, milliseconds since the epoch. */
  notBefore: number;
  notAfter: number;
}

/** Read the matchable facts of a DER certificate. X.509 parsing is @peculiar/x509's, not ours. */
export function readCertificateFacts(der: Uint8Array): CertificateFacts {
  const certificate = new X509Certificate(der);
  const san: CertificateFacts['san'] = { dns: [], uri: [], ip: [], email: [] };
  const extension = certificate.getExtension(SubjectAlternativeNameExtension);
  for (const name of extension?.names.items ?? []) {
    if (name.type === 'dns') san.dns.push(name.value);
    else if (name.type === 'url') san.uri.push(name.value);
    else if (name.type === 'ip') san.ip.push(name.value);
    else if (name.type === 'email') san.email.push(name.value);
  }
  const spiffeId = san.uri.length === 1 && parseSpiffeId(san.uri[0] as string) !== undefined ? san.uri[0] : undefined;
  return {
    thumbprint: computeThumbprint(der),
    subjectDn: certificate.subject,
    san,
    spiffeId,
    notBefore: certificate.notBefore.getTime(),
    notAfter: certificate.notAfter.getTime(),
  };
}

