/** certbound/client: get bound tokens over mutual TLS and call APIs with them. */
export { createTokenSource } from './token-source.js';
export type { TokenSource, TokenSourceOptions, ExchangedToken } from './token-source.js';
export { createMtlsAgent } from './mtls-agent.js';
export type { ClientTlsOptions } from './mtls-agent.js';
export { createBoundFetch } from './bound-fetch.js';
export type { BoundFetch, BoundFetchOptions } from './bound-fetch.js';
export { createClientIdentity } from './client-identity.js';
export type {
  ClientIdentity,
  ClientIdentityEvent,
  ClientIdentityMaterial,
  ClientIdentityOptions,
  ClientIdentitySnapshot,
} from './client-identity.js';
export { watchClientIdentity } from './client-identity-files.js';
export type { ClientIdentityFiles, WatchedClientIdentity } from './client-identity-files.js';
export { openPkcs11TlsKey } from '../keys/pkcs11-tls-key.js';
export { readCertificateFromToken } from '../keys/pkcs11-certificate.js';
export type { Pkcs11TlsKey } from '../keys/pkcs11-tls-key.js';
export type { Pkcs11KeyOptions } from '../keys/pkcs11-token.js';
