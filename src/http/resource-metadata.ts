import * as v from 'valibot';
import { nonEmpty, optionsObject, parseOptions, scopeTokens } from '../core/schema.js';
import { PROTECTED_RESOURCE_METADATA_PATH } from '../core/rfc.js';

export interface ProtectedResourceMetadataOptions {
  /** The resource identifier (RFC 9728 §2 `resource`): an https URL, usually the token audience. */
  resource: string;
  /** Issuers of the tokens this resource accepts (`authorization_servers`). */
  authorizationServers: readonly string[];
  /** Scopes the resource uses (`scopes_supported`). */
  scopes?: readonly string[];
}

/**
 * The RFC 9728 protected resource metadata document: where to get tokens, that they must be
 * certificate-bound (RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`), and that the
 * token goes only in the Authorization header.
 * @throws ConfigError when `resource` is not an https URL without query or fragment.
 */
export function protectedResourceMetadata(options: ProtectedResourceMetadataOptions): Record<string, unknown> {
  parseOptions(METADATA_OPTIONS, options);
  return {
    resource: options.resource,
    authorization_servers: [...options.authorizationServers],
    bearer_methods_supported: ['header'],
    tls_client_certificate_bound_access_tokens: true,
    ...(options.scopes === undefined || options.scopes.length === 0 ? {} : { scopes_supported: [...options.scopes] }),
  };
}

/**
 * Where the metadata of `resource` lives (RFC 9728 §3.1): the well-known path goes between the
 * host and the resource's own path, so `https://api.example/v1` → `https://api.example/.well-known/oauth-protected-resource/v1`.
 */
export function resourceMetadataUrl(resource: string): string {
  const url = requireResourceUrl(resource);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}${PROTECTED_RESOURCE_METADATA_PATH}${path}`;
}

const RESOURCE_URL = v.pipe(
  v.custom<string>(
    (resource) => typeof resource === 'string' && URL.canParse(resource),
    (issue) => `must be an https URL; ${JSON.stringify(issue.input)} is not a URL`,
  ),
  v.transform((resource) => new URL(resource)),
  v.check(
    (url) => url.protocol === 'https:' && url.search === '' && url.hash === '',
    'must be an https URL without query or fragment (RFC 9728 §2)',
  ),
);

const METADATA_OPTIONS = optionsObject(
  {
    resource: RESOURCE_URL,
    authorizationServers: v.pipe(v.array(nonEmpty(), 'must list at least one issuer'), v.minLength(1, 'must list at least one issuer')),
    scopes: v.optional(scopeTokens()),
  },
  'metadata options must be an object',
);

function requireResourceUrl(resource: string): URL {
  return parseOptions(v.object({ resource: RESOURCE_URL }), { resource }).resource;
}
