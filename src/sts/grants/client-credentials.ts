import { buildAccessTokenClaims, parseScope } from '../../core/claims.js';
import { CertboundError } from '../../core/errors.js';
import { authorizeAudiences, authorizeRequestedTokenType, authorizeScopes, clientIdentity, tokenLifetime } from '../../core/policy/authorize.js';
import { GRANT_TYPE_CLIENT_CREDENTIALS } from '../../core/rfc.js';
import { issueAccessToken, type Grant } from './grant.js';
import { requestedTokenTypeOf, targetsOf } from './token-exchange.js';

/**
 * RFC 6749 §4.4 client credentials, the client authenticated by its certificate (RFC 8705 §2:
 * tls_client_auth or self_signed_tls_client_auth) and the token bound to that certificate
 * (§3). The client's own registration says which audiences and scopes it may get; with exactly
 * one audience registered, `audience` may be omitted.
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2
 */
export const clientCredentialsGrant: Grant = {
  grantType: GRANT_TYPE_CLIENT_CREDENTIALS,
  async handle(context) {
    const { parameters, certificate, client } = context;
    for (const name of ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type']) {
      if (parameters.has(name)) {
        throw new CertboundError('CB_REQUEST_INVALID', { description: `${name} does not belong in a client_credentials request`, reason: 'malformed' });
      }
    }
    requestedTokenTypeOf(parameters);
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
      issuedAt: context.now,
    });
    return issueAccessToken(claims, context.signingKey, requestedTokenType);
  },
};
