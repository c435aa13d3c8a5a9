import { decodeJwt, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { certificateMatches, type CertificateMatcher } from './certificate/matcher.js';
import { type CertificateFacts } from './certificate/facts.js';
import { CertboundError } from './errors.js';
import { classifyJoseError } from './jose-errors.js';
import { malformedNumericDate } from './numeric-date.js';
import { checkSubjectTokenBinding } from './subject-binding.js';
import { hashSubjectToken, subjectPatternMatches } from './policy/authorize.js';
import type { IssuancePolicy, Policy, SubjectCredential, TrustedIssuer } from './policy/types.js';
import { DEFAULTS } from '../defaults.js';

/** Who a subject (or actor) token stands for, and what the policy lets it have. */
export interface AuthenticatedSubject {
  subject: string;
  policy: IssuancePolicy;
  /** Actor subjects the policy lets act for this subject. */
  mayAct: string[];
  /** Claims a trusted issuer's policy copies into the issued token. */
  copiedClaims: Record<string, unknown>;
  /** The token's own `act` (a prior delegation chain) and `may_act`, when it is a JWT. */
  act: unknown;
  mayActClaim: unknown;
  /** `iss` of a JWT subject token; undefined for a static one. */
  issuer: string | undefined;
  /**
   * The token is bound (cnf x5t#S256) to another certificate than the presenting client's, which
   * the client's registration allows (exchange_bound_tokens): the issued token must say who acted.
   */
  boundToAnotherCertificate: boolean;
}

export interface SubjectAuthenticationContext {
  policy: Policy;
  /** The presenting client's certificate, for subject tokens pinned to one. */
  certificate: CertificateFacts;
  /** Whether a trusted CA verified it (false for a self-signed client): then only x5t#S256 pins match. */
  caVerified: boolean;
  /**
   * The presenting client may exchange tokens bound to other certificates (a gateway that checked
   * the binding itself). Without this, a bound token must be bound to the presenting certificate.
   */
  exchangeBoundTokens: boolean;
  /** Keys of a trusted issuer, resolved by the adapter (file, inline or https URL). */
  keysFor(issuer: TrustedIssuer): JWTVerifyGetKey;
  /** Milliseconds since the epoch. */
  now: number;
  clockToleranceSeconds?: number;
}

/**
 * Authenticate a subject or actor token (RFC 8693 §2.1): a static token known by its SHA-256, or
 * a JWT from a trusted issuer, verified (signature, iss, aud, exp, nbf, max age, algorithm) and
 * mapped to a subject rule. Every refusal says why, without echoing the token.
 * @param role `subject_token` or `actor_token`, for the error descriptions.
 * @throws CertboundError CB_SUBJECT_TOKEN_INVALID, CB_TOKEN_TYPE_UNSUPPORTED, CB_SUBJECT_TOKEN_NOT_FOR_CLIENT or CB_JWKS_UNAVAILABLE.
 */
export async function authenticateToken(
  token: string,
  tokenType: string,
  context: SubjectAuthenticationContext,
  role: 'subject_token' | 'actor_token' = 'subject_token',
): Promise<AuthenticatedSubject> {
  const issuer = trustedIssuerOf(token, context.policy);
  if (issuer === undefined) return authenticateStatic(token, tokenType, context, role);
  return authenticateJwt(token, tokenType, issuer, context, role);
}

/** The trusted issuer a JWT names in `iss` (unverified at this point), if any. */
function trustedIssuerOf(token: string, policy: Policy): TrustedIssuer | undefined {
  if (policy.trustedIssuers.length === 0 || token.split('.').length !== 3) return undefined;
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    return undefined;
  }
  return policy.trustedIssuers.find((entry) => entry.issuer === iss);
}

function authenticateStatic(
  token: string,
  tokenType: string,
  context: SubjectAuthenticationContext,
  role: 'subject_token' | 'actor_token',
): AuthenticatedSubject {
  let credential;
  try {
    credential = authenticateSubjectToken(context.policy, token, tokenType, context.certificate, role, context.caVerified);
  } catch (error) {
    // A JWT from an issuer that is not trusted is the likeliest mistake: say so.
    const iss =
      (error as CertboundError).code === 'CB_SUBJECT_TOKEN_INVALID' && token.split('.').length === 3 ? safeIssuer(token) : undefined;
    if (iss !== undefined) throw invalid(`${role} issuer '${iss}' is not trusted`, 'unknown');
    throw error;
  }
  return {
    subject: credential.subject,
    policy: credential,
    mayAct: credential.mayAct,
    copiedClaims: {},
    act: undefined,
    mayActClaim: undefined,
    issuer: undefined,
    boundToAnotherCertificate: false,
  };
}

async function authenticateJwt(
  token: string,
  tokenType: string,
  issuer: TrustedIssuer,
  context: SubjectAuthenticationContext,
  role: 'subject_token' | 'actor_token',
): Promise<AuthenticatedSubject> {
  requireTokenType(issuer.tokenTypes, tokenType, role);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, context.keysFor(issuer), {
      issuer: issuer.issuer,
      audience: issuer.audiences,
      algorithms: issuer.algorithms,
      clockTolerance: context.clockToleranceSeconds ?? DEFAULTS.sts.subjectTokenClockToleranceSeconds,
      currentDate: new Date(context.now),
      requiredClaims: ['exp', ...(issuer.maxAgeSeconds === undefined ? [] : ['iat'])],
      ...(issuer.maxAgeSeconds === undefined ? {} : { maxTokenAge: issuer.maxAgeSeconds }),
    }));
  } catch (error) {
    throw describeJwtFailure(error, role, issuer);
  }
  const badDate = malformedNumericDate(payload);
  if (badDate !== undefined) throw invalid(`${role} ${badDate} claim must be a whole number of seconds`, 'malformed');
  const subject = payload[issuer.subjectClaim];
  if (typeof subject !== 'string' || subject.length === 0)
    throw invalid(`${role} has no ${issuer.subjectClaim} claim to use as the subject`, 'missing');
  const rule = issuer.subjects.find((entry) => subjectPatternMatches(entry.subject, subject));
  if (rule === undefined) throw invalid(`${role} subject '${subject}' from ${issuer.issuer} is not allowed by policy`, 'not_allowed');
  requirePinnedCertificate(rule.clientCertificate, context.certificate, context.caVerified, subject, role);
  const boundToAnotherCertificate = checkSubjectTokenBinding(payload.cnf, {
    presented: context.certificate.thumbprint,
    exchangeBoundTokens: context.exchangeBoundTokens,
    subject,
    role,
  });
  const copiedClaims = Object.fromEntries(
    issuer.copyClaims.filter((claim) => payload[claim] !== undefined).map((claim) => [claim, payload[claim]]),
  );
  return {
    subject,
    policy: rule,
    mayAct: rule.mayAct,
    copiedClaims,
    act: payload.act,
    mayActClaim: payload.may_act,
    issuer: issuer.issuer,
    boundToAnotherCertificate,
  };
}

function safeIssuer(token: string): string | undefined {
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === 'string' ? iss.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}

function requireTokenType(accepted: readonly string[], tokenType: string, role: string): void {
  if (!accepted.includes(tokenType)) {
    throw new CertboundError('CB_TOKEN_TYPE_UNSUPPORTED', {
      description: `${role}_type ${tokenType} is not accepted for this issuer`,
      reason: 'not_allowed',
    });
  }
}

/**
 * A subject token (static or from a trusted issuer) pinned to a client certificate may be
 * presented only with it. The one place CB_SUBJECT_TOKEN_NOT_FOR_CLIENT is decided.
 */
function requirePinnedCertificate(
  matcher: CertificateMatcher | undefined,
  certificate: CertificateFacts,
  caVerified: boolean,
  subject: string,
  role: string,
): void {
  if (matcher !== undefined && !certificateMatches(matcher, certificate, caVerified)) {
    throw new CertboundError('CB_SUBJECT_TOKEN_NOT_FOR_CLIENT', {
      description: `${role} was not issued to this client certificate`,
      detail: `subject=${subject} presented by x5t#S256=${certificate.thumbprint}`,
      reason: 'mismatch',
    });
  }
}

function invalid(
  description: string,
  reason: 'unknown' | 'missing' | 'not_allowed' | 'expired' | 'not_yet_valid' | 'mismatch' | 'malformed',
): CertboundError {
  return new CertboundError('CB_SUBJECT_TOKEN_INVALID', { description, reason });
}

/** jose's verdict (core/jose-errors.ts), in words a client developer can act on. */
function describeJwtFailure(error: unknown, role: string, issuer: TrustedIssuer): CertboundError {
  if (error instanceof CertboundError && error.code !== 'CB_JWKS_UNAVAILABLE') return error;
  const verdict = classifyJoseError(error);
  switch (verdict.kind) {
    case 'expired':
      return verdict.claim === 'iat'
        ? invalid(`${role} is older than the ${issuer.maxAgeSeconds} s this issuer's tokens may be`, 'expired')
        : invalid(`${role} has expired`, 'expired');
    case 'claim':
      if (verdict.claim === 'aud')
        return invalid(`${role} audience is not accepted (expected one of ${issuer.audiences.join(', ')})`, 'mismatch');
      if (verdict.claim === 'nbf') return invalid(`${role} is not yet valid`, 'not_yet_valid');
      if (verdict.claim === 'iat' && verdict.reason === 'check_failed') return invalid(`${role} was issued in the future`, 'not_yet_valid');
      return invalid(
        `${role} ${verdict.claim} claim is ${verdict.reason === 'missing' ? 'missing' : 'not accepted'}`,
        verdict.reason === 'missing' ? 'missing' : 'mismatch',
      );
    case 'signature':
      return invalid(`${role} signature is invalid`, 'mismatch');
    case 'algorithm':
      return invalid(`${role} signing algorithm is not allowed for this issuer`, 'not_allowed');
    case 'unknown_key':
      return verdict.multiple
        ? invalid(`${role} could not be verified`, 'malformed')
        : invalid(`${role} was signed with a key the issuer does not publish`, 'unknown');
    case 'malformed':
      return verdict.what === 'unsupported'
        ? invalid(`${role} could not be verified`, 'malformed')
        : invalid(`${role} is not a valid JWT`, 'malformed');
    case 'keys_unavailable':
      return new CertboundError('CB_JWKS_UNAVAILABLE', {
        description: `the keys of ${issuer.issuer} are unavailable`,
        detail: (error as CertboundError).detail ?? (error as Error).message,
        retryAfterSeconds: DEFAULTS.verification.keysUnavailableRetryAfterSeconds,
        cause: error,
      });
    case 'other':
      return invalid(`${role} could not be verified`, 'malformed');
  }
}

/**
 * Which subject a static subject token stands for, checked against the presenting certificate.
 * @throws CertboundError CB_SUBJECT_TOKEN_INVALID, CB_TOKEN_TYPE_UNSUPPORTED or CB_SUBJECT_TOKEN_NOT_FOR_CLIENT.
 */
export function authenticateSubjectToken(
  policy: Policy,
  subjectToken: string,
  subjectTokenType: string,
  certificate: CertificateFacts,
  role: 'subject_token' | 'actor_token' = 'subject_token',
  caVerified = true,
): SubjectCredential {
  const hash = hashSubjectToken(subjectToken);
  const credential = policy.subjectTokens.find((entry) => entry.sha256 === hash);
  if (credential === undefined) {
    throw new CertboundError('CB_SUBJECT_TOKEN_INVALID', { description: `${role} is not valid`, reason: 'unknown' });
  }
  if (!credential.tokenTypes.includes(subjectTokenType)) {
    throw new CertboundError('CB_TOKEN_TYPE_UNSUPPORTED', {
      description: `${role}_type ${subjectTokenType} is not accepted for this ${role.replace('_', ' ')}`,
      reason: 'not_allowed',
    });
  }
  requirePinnedCertificate(credential.clientCertificate, certificate, caVerified, credential.subject, role);
  return credential;
}
