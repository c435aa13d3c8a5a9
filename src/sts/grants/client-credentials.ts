import { buildAccessTokenClaims } from '../../core/claims.js';
import { parseScope } from '../../core/scope.js';
import {
  authorizeAudiences,
  authorizeRequestedTokenType,
  authorizeScopes,
  clientIdentity,
  tokenLifetime,
} from '../../core/policy/authorize.js';
import { GRANT_TYPE_CLIENT_CREDENTIALS } from '../../core/rfc.js';
import { issueAccessToken, type Grant } from './grant.js';
import { TARGET_PARAMETERS, targetsOf } from './parameters.js';

/**
 * RFC 6749 §4.4 client credentials, the client authenticated by its certificate (RFC 8705 §2:
 * tls_client_auth or self_signed_tls_client_auth) and the token bound to that certificate
 * (§3). The client's own registration says which audiences and scopes it may get; with exactly
 * one audience registered, `audience` may be omitted.
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2
 */
export const clientCredentialsGrant: Grant = {
  grantType: GRANT_TYPE_CLIENT_CREDENTIALS,
  parameters: TARGET_PARAMETERS,
  async handle(context) {
    const { parameters, certificate, client } = context;
    const requestedTokenType = authorizeRequestedTokenType(client, parameters.optional('requested_token_type'));
    const audience = authorizeAudiences(client, targetsOf(parameters, client.audiences));
    const scope = authorizeScopes(client, parseScope(parameters.optional('scope')));
    const identity = clientIdentity(client, certificate.facts());
    const claims = buildAccessTokenClaims({
      issuer: context.issuer,
      subject: identity.subject,
      audience,
      clientId: identity.clientId,
      scope,
      thumbprint: certificate.thumbprint,
      lifetimeSeconds: tokenLifetime(client, context.accessTokenLifetimeSeconds),
      issuedAt: Math.floor(context.now / 1000),
    });
    return issueAccessToken(claims, context.signingKey, requestedTokenType);
  },
};
