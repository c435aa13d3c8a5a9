import { buildAccessTokenClaims } from '../../core/claims.js';
import { parseScope } from '../../core/scope.js';
import { CertboundError } from '../../core/errors.js';
import {
  authorizeAudiences,
  authorizeRequestedTokenType,
  authorizeScopes,
  clientIdentity,
  subjectPatternMatches,
  tokenLifetime,
} from '../../core/policy/authorize.js';
import { authenticateToken, type AuthenticatedSubject, type SubjectAuthenticationContext } from '../../core/subject-token.js';
import { GRANT_TYPE_TOKEN_EXCHANGE } from '../../core/rfc.js';
import { issueAccessToken, type Grant } from './grant.js';
import { TARGET_PARAMETERS, targetsOf } from './parameters.js';

/**
 * RFC 8693 token exchange: a subject token (static, or a JWT from a trusted issuer), optionally
 * with an actor token (delegation, §1.1), for a JWT access token bound to the calling client's
 * certificate and carrying `act` for the actor.
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 */
export const tokenExchangeGrant: Grant = {
  grantType: GRANT_TYPE_TOKEN_EXCHANGE,
  parameters: {
    subject_token: { occurs: 'required' },
    subject_token_type: { occurs: 'required' },
    ...TARGET_PARAMETERS,
    actor_token: { occurs: 'optional', with: 'actor_token_type' },
    actor_token_type: { occurs: 'optional', with: 'actor_token' },
  },
  async handle(context) {
    const { parameters, certificate } = context;
    const subjectToken = parameters.required('subject_token');
    const subjectTokenType = parameters.required('subject_token_type');
    const targets = targetsOf(parameters);
    const requestedScopes = parseScope(parameters.optional('scope'));
    const actorToken = parameters.optional('actor_token');
    const actorTokenType = parameters.optional('actor_token_type');

    const authentication: SubjectAuthenticationContext = {
      policy: context.policy,
      certificate: certificate.facts(),
      caVerified: certificate.authorized,
      exchangeBoundTokens: context.client.exchangeBoundTokens,
      keysFor: context.keysFor,
      now: context.now,
    };
    const subject = await authenticateToken(subjectToken, subjectTokenType, authentication, 'subject_token');
    const actor =
      actorToken === undefined ? undefined : await authenticateToken(actorToken, actorTokenType as string, authentication, 'actor_token');
    if (actor !== undefined) authorizeActor(subject, actor);
    const credential = subject.policy;
    const requestedTokenType = authorizeRequestedTokenType(credential, parameters.optional('requested_token_type'));
    const audience = authorizeAudiences(credential, targets);
    const scope = authorizeScopes(credential, requestedScopes);

    const clientId = clientIdentity(context.client, certificate.facts()).clientId;
    // Without a new actor, a delegated subject token's chain is kept, never dropped.
    const delegation = actor !== undefined ? actClaim(subject, actor) : isObject(subject.act) ? subject.act : undefined;
    // A gateway exchanging tokens bound to its callers' certificates is the latest actor.
    const act =
      subject.boundToAnotherCertificate || actor?.boundToAnotherCertificate === true
        ? { sub: clientId, ...(delegation === undefined ? {} : { act: delegation }) }
        : delegation;
    const claims = buildAccessTokenClaims({
      issuer: context.issuer,
      subject: subject.subject,
      audience,
      clientId,
      scope,
      thumbprint: certificate.thumbprint,
      lifetimeSeconds: tokenLifetime(credential, context.accessTokenLifetimeSeconds),
      issuedAt: Math.floor(context.now / 1000),
      extraClaims: subject.copiedClaims,
      ...(act === undefined ? {} : { act }),
    });
    return issueAccessToken(claims, context.signingKey, requestedTokenType);
  },
};

/**
 * The actor may act for the subject only if the policy says so (the subject's may_act list) and,
 * when the subject token carries a `may_act` claim (RFC 8693 §4.4), that claim names the actor
 * too: the claim narrows what the policy allows, it never widens it.
 * @throws CertboundError CB_ACTOR_NOT_ALLOWED
 */
function authorizeActor(subject: AuthenticatedSubject, actor: AuthenticatedSubject): void {
  const refuse = (why: string): never => {
    throw new CertboundError('CB_ACTOR_NOT_ALLOWED', {
      description: why,
      detail: `actor=${actor.subject} subject=${subject.subject}`,
      reason: 'not_allowed',
    });
  };
  if (!subject.mayAct.some((pattern) => subjectPatternMatches(pattern, actor.subject))) {
    refuse(`actor '${actor.subject}' may not act for subject '${subject.subject}'`);
  }
  const claim = subject.mayActClaim;
  if (claim !== undefined) {
    const mayAct = claim !== null && typeof claim === 'object' && !Array.isArray(claim) ? (claim as Record<string, unknown>) : {};
    const named = mayAct.sub === actor.subject && (mayAct.iss === undefined || mayAct.iss === actor.issuer);
    if (!named) refuse("the subject token's may_act claim does not name this actor");
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** RFC 8693 §4.1: the current actor, with the subject token's own delegation chain nested under it. */
function actClaim(subject: AuthenticatedSubject, actor: AuthenticatedSubject): Record<string, unknown> {
  const prior = isObject(subject.act) ? subject.act : undefined;
  return {
    sub: actor.subject,
    ...(actor.issuer === undefined ? {} : { iss: actor.issuer }),
    ...(prior === undefined ? {} : { act: prior }),
  };
}
