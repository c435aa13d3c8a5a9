import type { Policy } from '../core/policy/types.js';
import {
  AUTH_METHOD_TLS_CLIENT_AUTH,
  INTROSPECTION_ENDPOINT_PATH,
  TOKEN_ENDPOINT_PATH,
  WELL_KNOWN_AUTHORIZATION_SERVER,
  WELL_KNOWN_JWKS,
} from '../core/rfc.js';

/**
 * Where RFC 8414 clients (openid-client, oauth4webapi) fetch the metadata of `issuer`: the
 * well-known path inserted between the issuer's origin and its path (§3.1).
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3.1
 */
export function metadataUrlOf(issuer: string): URL {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return new URL(`${WELL_KNOWN_AUTHORIZATION_SERVER}${path}`, url.origin);
}

/**
 * The request paths this STS answers with its metadata: the RFC 8414 one, and for an issuer with
 * a path also the appended form some older clients use (`<issuer>/.well-known/...`, §5).
 */
export function metadataPathsOf(issuer: string): Set<string> {
  const path = new URL(issuer).pathname.replace(/\/$/, '');
  return new Set([metadataUrlOf(issuer).pathname, `${path}${WELL_KNOWN_AUTHORIZATION_SERVER}`]);
}

/**
 * Why clients that discover this STS from its issuer would not find it, or undefined when they
 * will. The STS serves its endpoints and metadata at the root of wherever it is reached, and is
 * reached at the public URL; RFC 8414 clients fetch the metadata from the issuer's origin and
 * compare its `issuer` exactly. So the public URL must be the issuer's origin, without a path.
 */
export function discoveryProblem(issuer: string, publicUrl: string): string | undefined {
  const metadataUrl = metadataUrlOf(issuer);
  const reached = new URL(publicUrl);
  if (reached.origin === metadataUrl.origin && (reached.pathname === '/' || reached.pathname === '')) return undefined;
  return `clients discovering issuer ${issuer} fetch ${metadataUrl.href}, which is not where this STS is reached (${publicUrl})`;
}

/** RFC 8414 §2 authorization server metadata, with the RFC 8705 §3.3 and §5 members. */
export function buildMetadata(issuer: string, publicUrl: string, policy: Policy, grantTypes: readonly string[]): Record<string, unknown> {
  const tokenEndpoint = `${publicUrl}${TOKEN_ENDPOINT_PATH}`;
  const introspectionEndpoint = `${publicUrl}${INTROSPECTION_ENDPOINT_PATH}`;
  const scopes = [...new Set([...policy.subjectTokens, ...policy.clients].flatMap((entry) => entry.scopes))].sort();
  const registered = [...new Set(policy.clients.map((client) => client.authMethod))].sort();
  const authMethods = registered.length > 0 ? registered : [AUTH_METHOD_TLS_CLIENT_AUTH];
  return {
    issuer,
    token_endpoint: tokenEndpoint,
    jwks_uri: `${publicUrl}${WELL_KNOWN_JWKS}`,
    grant_types_supported: [...grantTypes],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: authMethods,
    tls_client_certificate_bound_access_tokens: true,
    introspection_endpoint: introspectionEndpoint,
    introspection_endpoint_auth_methods_supported: authMethods,
    mtls_endpoint_aliases: { token_endpoint: tokenEndpoint, introspection_endpoint: introspectionEndpoint },
    ...(scopes.length > 0 ? { scopes_supported: scopes } : {}),
  };
}
