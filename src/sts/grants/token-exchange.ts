import { buildAccessTokenClaims, parseScope } from '../../core/claims.js';
import { CertboundError } from '../../core/errors.js';
import { authenticateSubjectToken, authorizeAudiences, authorizeRequestedTokenType, authorizeScopes, clientIdentity, tokenLifetime } from '../../core/policy.js';
import { GRANT_TYPE_TOKEN_EXCHANGE, ISSUABLE_TOKEN_TYPES, TOKEN_TYPE_ACCESS_TOKEN } from '../../core/rfc.js';
import { signAccessToken } from '../../core/signing.js';
import type { TokenRequestParameters } from '../../core/token-request.js';
import type { Grant } from './grant.js';

/**
 * RFC 8693 token exchange: a static subject token for a JWT access token bound to the calling
 * client's certificate.
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 */
export const tokenExchangeGrant: Grant = {
  grantType: GRANT_TYPE_TOKEN_EXCHANGE,
  async handle(context) {
    const { parameters, certificate } = context;
    const subjectToken = parameters.required('subject_token');
    const subjectTokenType = parameters.required('subject_token_type');
    requestedTokenTypeOf(parameters);
    if (parameters.has('actor_token') || parameters.has('actor_token_type')) {
      throw invalidRequest('delegation (actor_token) is not supported by this STS');
    }
    const targets = targetsOf(parameters);
    const requestedScopes = parseScope(parameters.optional('scope'));

    const credential = authenticateSubjectToken(context.policy, subjectToken, subjectTokenType, certificate.facts());
    const requestedTokenType = authorizeRequestedTokenType(credential, parameters.optional('requested_token_type'));
    const audience = authorizeAudiences(credential, targets);
    const scope = authorizeScopes(credential, requestedScopes);

    const claims = buildAccessTokenClaims({
      issuer: context.issuer,
      subject: credential.subject,
      audience,
      clientId: clientIdentity(context.client, certificate.facts()).clientId,
      scope,
      thumbprint: certificate.thumbprint,
      lifetimeSeconds: tokenLifetime(credential, context.accessTokenLifetimeSeconds),
      issuedAt: context.now,
    });
    const accessToken = await signAccessToken(claims, context.signingKey);
    return {
      subject: claims.sub,
      jti: claims.jti,
      response: {
        access_token: accessToken,
        issued_token_type: requestedTokenType,
        token_type: 'Bearer',
        expires_in: claims.exp - claims.iat,
        ...(claims.scope === undefined ? {} : { scope: claims.scope }),
      },
    };
  },
};

/** requested_token_type must be a type this STS issues at all (checked before the subject token). */
export function requestedTokenTypeOf(parameters: TokenRequestParameters): string {
  const requested = parameters.optional('requested_token_type') ?? TOKEN_TYPE_ACCESS_TOKEN;
  if (!(ISSUABLE_TOKEN_TYPES as readonly string[]).includes(requested)) {
    throw new CertboundError('CB_TOKEN_TYPE_UNSUPPORTED', {
      description: `requested_token_type must be one of ${ISSUABLE_TOKEN_TYPES.join(', ')}`,
      reason: 'not_allowed',
    });
  }
  return requested;
}

/** audience values and resource URIs together name where the token may be used (RFC 8693 §2.1). */
export function targetsOf(parameters: TokenRequestParameters, fallback: readonly string[] = []): string[] {
  const resources = parameters.list('resource');
  for (const resource of resources) {
    if (!isAbsoluteUriWithoutFragment(resource)) {
      throw invalidRequest(`resource must be an absolute URI without a fragment: ${resource}`);
    }
  }
  const targets = [...parameters.list('audience'), ...resources];
  if (targets.length === 0 && fallback.length === 1) return [...fallback];
  if (targets.length === 0) throw invalidRequest('audience or resource is required');
  return targets;
}

function isAbsoluteUriWithoutFragment(value: string): boolean {
  if (!URL.canParse(value)) return false;
  return !value.includes('#');
}

function invalidRequest(description: string): CertboundError {
  return new CertboundError('CB_REQUEST_INVALID', { description, reason: 'malformed' });
}
