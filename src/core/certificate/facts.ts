import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, id_ce_subjectAltName, SubjectAlternativeName } from '@peculiar/asn1-x509';
import { parseSpiffeId } from '../spiffe.js';
import { computeThumbprint } from '../thumbprint.js';
import { printName } from './name.js';

/**
 * What policy may match a client certificate on: the facts RFC 8705 §2.1.2 registers
 * (subject DN and SANs) plus the thumbprint. Computed once per TLS connection.
 */
export interface CertificateFacts {
  thumbprint: string;
  /**
   * Subject DN in the certificate's own RDN order, as `openssl x509 -subject` prints it (e.g.
   * `CN=alice, O=certbound dev`): the reverse of RFC 4514's string order. See printName.
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

/**
 * Read the matchable facts of a DER certificate. The ASN.1 is read by @peculiar/asn1-x509, not
 * here; it needs no global polyfill (reflect-metadata), unlike @peculiar/x509.
 * @throws when the certificate, or its SubjectAltName extension, cannot be parsed.
 */
export function readCertificateFacts(der: Uint8Array): CertificateFacts {
  const { tbsCertificate } = AsnConvert.parse(der, Certificate);
  const san: CertificateFacts['san'] = { dns: [], uri: [], ip: [], email: [] };
  // The first SubjectAltName extension, as @peculiar/x509's getExtension took it.
  const extension = tbsCertificate.extensions?.find((item) => item.extnID === id_ce_subjectAltName);
  // GeneralNames of other types (otherName, directoryName, ...) are not matched on.
  for (const name of extension === undefined ? [] : AsnConvert.parse(extension.extnValue.buffer, SubjectAlternativeName)) {
    if (name.dNSName !== undefined) san.dns.push(name.dNSName);
    else if (name.rfc822Name !== undefined) san.email.push(name.rfc822Name);
    else if (name.iPAddress !== undefined) san.ip.push(name.iPAddress);
    else if (name.uniformResourceIdentifier !== undefined) san.uri.push(name.uniformResourceIdentifier);
  }
  const spiffeId = san.uri.length === 1 && parseSpiffeId(san.uri[0] as string) !== undefined ? san.uri[0] : undefined;
  return {
    thumbprint: computeThumbprint(der),
    subjectDn: printName(tbsCertificate.subject),
    san,
    spiffeId,
    notBefore: tbsCertificate.validity.notBefore.getTime().getTime(),
    notAfter: tbsCertificate.validity.notAfter.getTime().getTime(),
  };
}
