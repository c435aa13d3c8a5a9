/**
 * certbound: certificate-bound access tokens (RFC 8705), the pure core. Verify a token against the
 * certificate of the connection it came on, compute thumbprints, and match on error codes.
 * The STS is `certbound/sts`; resource adapters `certbound/node`, `certbound/fastify`,
 * `certbound/express`, `certbound/grpc`; the client `certbound/client`; a dev PKI `certbound/pki`.
 */
export { createBoundTokenVerifier, requireScopes } from './core/verify.js';
export type { BoundTokenVerifier, VerifiedToken, VerifierOptions } from './core/verify.js';
export { withVerificationCache } from './core/verification-cache.js';
export type { VerificationCacheOptions } from './core/verification-cache.js';
export { computeThumbprint, isWellFormedThumbprint, thumbprintFromSha256Hex, thumbprintsEqual } from './core/thumbprint.js';
export { parseBearerAuthorization } from './core/bearer.js';
export { parseScope } from './core/scope.js';
export { CertboundError, ERROR_OUTCOMES, GrpcStatus, isCertboundError, toCertboundError } from './core/errors.js';
export type { AnyCertboundError, CertboundErrorCode, CertboundErrorOptions, FailureReason } from './core/errors.js';
export { ConfigError } from './core/config-error.js';
export { DEFAULTS } from './defaults.js';
export {
  ACCESS_TOKEN_JWT_TYP,
  CNF_X5T_S256,
  GRANT_TYPE_CLIENT_CREDENTIALS,
  GRANT_TYPE_TOKEN_EXCHANGE,
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_ID_TOKEN,
  TOKEN_TYPE_JWT,
} from './core/rfc.js';
export type { AsymmetricAlgorithm } from './core/rfc.js';
