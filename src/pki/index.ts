/** certbound/pki: a development PKI (never for production), in memory or written to files. */
export {
  createCertificateAuthority,
  issueCertificate,
  generateSigningKeyPem,
  createCrl,
  loadCertificateAuthority,
  revokedSerials,
} from './generate.js';
export type { CertificateAuthority, IssuedCertificate, LeafOptions, NameOptions, ValidityOptions, CrlOptions } from './generate.js';
export { planDevPki, DEV_PKI_FILES, DEV_SUBJECT_TOKENS, DEV_ISSUER, DEV_AUDIENCE, DEV_GRPC_AUDIENCE, DEV_SCOPES } from './dev-pki.js';
export type { DevPki, PlannedFile } from './dev-pki.js';
export { writePlannedFiles } from './write.js';
export { canonicalDistinguishedName } from './distinguished-name.js';
