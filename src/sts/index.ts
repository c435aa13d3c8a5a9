/** certbound/sts: the RFC 8693 token-exchange STS, its configuration, policy and keys. */
export { createStsServer, createStsHandler } from './server.js';
export type { StsOptions, StsEvent } from './server.js';
export { loadStsConfig } from './config.js';
export type { LoadedStsConfig, StsConfigOverrides } from './config.js';
export { parsePolicy, PolicyError } from '../config/policy.js';
export type {
  Policy,
  ClientRegistration,
  SubjectCredential,
  TrustedIssuer,
  FederatedSubjectRule,
  IssuancePolicy,
} from '../core/policy/types.js';
export { hashSubjectToken } from '../core/policy/authorize.js';
export type { CertificateMatcher } from '../core/certificate/matcher.js';
export { createSigningKey } from '../core/signing/signer.js';
export type { Signer, SigningKey, SigningKeyInput } from '../core/signing/signer.js';
export { signAccessToken } from '../core/signing/jws.js';
export { openKeystore, staticKeyProvider } from '../keys/keystore.js';
export { openPkcs11Signer } from '../keys/pkcs11-signer.js';
export type { Pkcs11Signer, Pkcs11SignerOptions } from '../keys/pkcs11-signer.js';
export type { KeystoreEvent, KeystoreOptions, KeystoreProvider, SigningKeyProvider } from '../keys/keystore.js';
export type { ServerLimits } from '../config/limits.js';
export type { ManagedServer } from '../server/https-server.js';
export type { ServerTlsOptions } from '../server/tls.js';
export { ConfigError, FileProblem } from '../core/config-error.js';
export { openPkcs11TlsKey } from '../keys/pkcs11-tls-key.js';
export { readCertificateFromToken } from '../keys/pkcs11-certificate.js';
export type { Pkcs11TlsKey } from '../keys/pkcs11-tls-key.js';
export type { Pkcs11KeyOptions } from '../keys/pkcs11-token.js';
