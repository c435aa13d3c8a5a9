/**
 * certbound core: certificate-bound access tokens (RFC 8705) without I/O.
 * Adapters live at `certbound/sts`, `certbound/node`, `certbound/client` and `certbound/pki`.
 */
export { computeThumbprint, isWellFormedThumbprint, thumbprintsEqual, toDer } from './core/thumbprint.js';
export { createBoundTokenVerifier, requireScopes, DEFAULT_CLOCK_TOLERANCE_SECONDS, MAX_CLOCK_TOLERANCE_SECONDS } from './core/verify.js';
export type { BoundTokenVerifier, VerifiedToken, VerifierOptions } from './core/verify.js';
export { withVerificationCache, DEFAULT_CACHE_MAX_ENTRIES, DEFAULT_CACHE_MAX_AGE_SECONDS } from './core/verification-cache.js';
export type { VerificationCacheOptions } from './core/verification-cache.js';
export { thumbprintFromSha256Hex } from './core/thumbprint.js';
export { buildAccessTokenClaims, parseScope } from './core/claims.js';
export type { AccessTokenClaims, AccessTokenInput } from './core/claims.js';
export { parseBearerAuthorization } from './core/bearer.js';
export { createSigningKey, algorithmForKey } from './core/signing/signer.js';
export { signAccessToken } from './core/signing/jws.js';
export type { Signer, SigningKey, SigningKeyInput } from './core/signing/signer.js';
export { parsePolicy, PolicyError } from './config/policy.js';
export { findClient, hashSubjectToken, authorizeAudiences, authorizeScopes } from './core/policy/authorize.js';
export { authenticateSubjectToken } from './core/subject-token.js';
export type { Policy, ClientRegistration, SubjectCredential } from './core/policy/types.js';
export { readCertificateFacts } from './core/certificate/facts.js';
export { certificateMatches } from './core/certificate/matcher.js';
export { canonicalDistinguishedName } from './core/certificate/distinguished-name.js';
export type { CertificateFacts } from './core/certificate/facts.js';
export type { CertificateMatcher } from './core/certificate/matcher.js';
export { parseTokenRequest, TokenRequestParameters } from './core/token-request.js';
export { createRateLimiter, RATE_LIMIT_DEFAULTS } from './core/rate-limit.js';
export type { RateLimiter, RateLimitOptions, RateDecision } from './core/rate-limit.js';
export { CertboundError, ERROR_OUTCOMES, GrpcStatus, isCertboundError, toCertboundError } from './core/errors.js';
export type { CertboundErrorCode, CertboundErrorOptions, FailureReason } from './core/errors.js';
export * from './core/rfc.js';
