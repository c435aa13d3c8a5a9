/**
 * certbound/node: enforce certificate-bound tokens on node:https and node:http2 servers (and any
 * framework, through authenticateRequest), behind TLS-terminating proxies too.
 */
export { protect } from './node.js';
export { authenticateRequest } from './authenticate.js';
export type { ProtectOptions, RequestAuthenticationOptions, RequestEvent, NodeRequest, NodeResponse } from './authenticate.js';
export { sendBearerChallenge } from '../server/respond.js';
export type { ChallengeOptions } from '../server/respond.js';
export type { TrustedProxyOptions, ForwardedCertificateFormat } from './forwarded-certificate.js';
export { protectedResourceMetadata, resourceMetadataUrl } from './resource-metadata.js';
export type { ProtectedResourceMetadataOptions } from './resource-metadata.js';
export { loadJwksSource } from '../keys/jwks-source.js';
export type { JwksSourceOptions, JwksSource, JwksEvent } from '../keys/jwks-source.js';
export { serverTlsOptions, serverSecureContext } from '../server/tls.js';
export type { ServerTlsOptions } from '../server/tls.js';
export { createLimitedHttpsServer } from '../server/https-server.js';
export type { ManagedServer } from '../server/https-server.js';
export type { ServerLimits } from '../config/limits.js';
export { openPkcs11TlsKey } from '../keys/pkcs11-tls-key.js';
export { readCertificateFromToken } from '../keys/pkcs11-certificate.js';
export type { Pkcs11TlsKey } from '../keys/pkcs11-tls-key.js';
export type { Pkcs11KeyOptions } from '../keys/pkcs11-token.js';
