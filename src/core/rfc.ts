/**
 * Every protocol string certbound speaks, in one place. No other module spells a URN.
 */

/** RFC 8693 §2.1 grant type for token exchange. */
export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** RFC 8693 §3 token type identifiers. */
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const TOKEN_TYPE_REFRESH_TOKEN = 'urn:ietf:params:oauth:token-type:refresh_token';

/** Token types the STS can issue (RFC 8693 §2.1 requested_token_type). */
export const ISSUABLE_TOKEN_TYPES = [TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT] as const;
export type IssuableTokenType = (typeof ISSUABLE_TOKEN_TYPES)[number];

/** RFC 9068 §2.1 JWT access token media type, used as the JOSE `typ` header. */
export const ACCESS_TOKEN_JWT_TYP = 'at+jwt';

/** RFC 8705 §3.1 confirmation method member. */
export const CNF_X5T_S256 = 'x5t#S256';

/** RFC 8705 §2.1 client authentication method for PKI mutual TLS. */
export const AUTH_METHOD_TLS_CLIENT_AUTH = 'tls_client_auth';
/** RFC 8705 §2.2 client authentication method for self-signed certificates. */
export const AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH = 'self_signed_tls_client_auth';

/** RFC 6749 §4.4 client credentials grant. */
export const GRANT_TYPE_CLIENT_CREDENTIALS = 'client_credentials';

/** RFC 6750 §2.1 authentication scheme. */
export const BEARER_SCHEME = 'Bearer';

/** RFC 8414 §3 and the JWKS location certbound publishes. */
export const WELL_KNOWN_AUTHORIZATION_SERVER = '/.well-known/oauth-authorization-server';
export const WELL_KNOWN_JWKS = '/.well-known/jwks.json';
/** RFC 9728 §3: protected resource metadata. */
export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';
export const TOKEN_ENDPOINT_PATH = '/token';
/** RFC 7662 token introspection endpoint. */
export const INTROSPECTION_ENDPOINT_PATH = '/introspect';
export const HEALTH_PATH = '/healthz';

/** Media types the token endpoint accepts (RFC 6749 §3.2 form; JSON as the seed's clients send). */
export const MEDIA_TYPE_FORM = 'application/x-www-form-urlencoded';
export const MEDIA_TYPE_JSON = 'application/json';

/**
 * JWS algorithms certbound signs and verifies with. Asymmetric only: `none` and HS* are never
 * accepted, so a public key can never be (mis)used as an HMAC secret (RFC 8725 §2.1, §3.1).
 */
export const ASYMMETRIC_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

export function isAsymmetricAlgorithm(value: unknown): value is AsymmetricAlgorithm {
  return typeof value === 'string' && (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(value);
}
