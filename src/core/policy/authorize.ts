import { createHash } from 'node:crypto';
import { certificateMatches } from '../certificate/matcher.js';
import { type CertificateFacts } from '../certificate/facts.js';
import { CertboundError } from '../errors.js';
import { AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH, TOKEN_TYPE_ACCESS_TOKEN } from '../rfc.js';
import type { ClientRegistration, IssuancePolicy, Policy } from './types.js';

/**
 * `*` in a subject pattern stands for any run of characters; everything else is literal. Matched
 * left to right without backtracking (the literal pieces between stars are found in order), so
 * the time is linear in the subject whatever the pattern: subjects come from tokens, and a
 * regular expression with several stars can take minutes on a crafted one.
 */
export function subjectPatternMatches(pattern: string, subject: string): boolean {
  const pieces = pattern.split('*');
  if (pieces.length === 1) return pattern === subject;
  const first = pieces[0] as string;
  const last = pieces[pieces.length - 1] as string;
  if (subject.length < first.length + last.length || !subject.startsWith(first) || !subject.endsWith(last)) return false;
  const end = subject.length - last.length;
  let position = first.length;
  for (const piece of pieces.slice(1, -1)) {
    const found = subject.indexOf(piece, position);
    if (found === -1 || found + piece.length > end) return false;
    position = found + piece.length;
  }
  return true;
}

/** The registered client a certificate authenticates as (RFC 8705 §2.1), or undefined. */
export function findClient(policy: Policy, certificate: CertificateFacts, caVerified = true): ClientRegistration | undefined {
  return policy.clients.find((client) =>
    client.authMethod === AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH
      ? client.selfSignedThumbprints.includes(certificate.thumbprint)
      : // A certificate no CA vouched for proves nothing about its subject or SANs.
        // tls_client_auth is PKI (RFC 8705 §2.1): even a thumbprint match needs the CA's verdict.
        caVerified && client.certificate !== undefined && certificateMatches(client.certificate, certificate),
  );
}

/** The client_id and default subject a registration gives a certificate (SPIFFE IDs included). */
export function clientIdentity(client: ClientRegistration, certificate: CertificateFacts): { clientId: string; subject: string } {
  const spiffeId = certificate.spiffeId;
  const clientId = client.clientIdFrom === 'spiffe_id' && spiffeId !== undefined ? spiffeId : client.clientId;
  const subject = client.subjectFrom === 'spiffe_id' && spiffeId !== undefined ? spiffeId : clientId;
  return { clientId, subject };
}

/** SHA-256 hex of a subject token, the only form in which static subject tokens are stored. */
export function hashSubjectToken(subjectToken: string): string {
  return createHash('sha256').update(subjectToken, 'utf8').digest('hex');
}

/** Every requested audience/resource must be allowed; nothing is silently dropped (RFC 8693 §2.2.2). */
export function authorizeAudiences(credential: IssuancePolicy, requested: readonly string[]): string[] {
  const refused = requested.filter((target) => !credential.audiences.includes(target));
  if (refused.length > 0) {
    throw new CertboundError('CB_TARGET_NOT_ALLOWED', {
      description: `not allowed to request a token for ${refused.join(', ')}`,
      reason: 'not_allowed',
    });
  }
  return [...new Set(requested)];
}

/**
 * Every requested scope must be allowed (RFC 6749 §5.2 invalid_scope), unless the policy says to
 * narrow, when the disallowed ones are dropped (and the response's `scope` says what was granted).
 * None requested, none granted.
 */
export function authorizeScopes(credential: IssuancePolicy, requested: readonly string[]): string[] {
  const refused = requested.filter((scope) => !credential.scopes.includes(scope));
  // Narrowing to nothing would read as "everything requested was granted" (RFC 6749 §5.1): refuse.
  if (refused.length > 0 && credential.narrowScopes && refused.length < requested.length)
    return requested.filter((scope) => credential.scopes.includes(scope));
  if (refused.length > 0) {
    throw new CertboundError('CB_SCOPE_NOT_ALLOWED', {
      description: `scope not allowed: ${refused.join(' ')}`,
      reason: 'not_allowed',
    });
  }
  return [...requested];
}

/** The lifetime of a token issued under `policy`: the STS default, capped by the policy. */
export function tokenLifetime(policy: IssuancePolicy, stsDefaultSeconds: number): number {
  return policy.maxTokenLifetimeSeconds === undefined ? stsDefaultSeconds : Math.min(policy.maxTokenLifetimeSeconds, stsDefaultSeconds);
}

/**
 * requested_token_type must be one the STS issues and the policy allows (RFC 8693 §2.1).
 * @throws CertboundError CB_TOKEN_TYPE_UNSUPPORTED
 */
export function authorizeRequestedTokenType(policy: IssuancePolicy, requested: string | undefined): string {
  const type = requested ?? TOKEN_TYPE_ACCESS_TOKEN;
  if (!policy.requestedTokenTypes.includes(type)) {
    throw new CertboundError('CB_TOKEN_TYPE_UNSUPPORTED', {
      description: `requested_token_type must be one of ${policy.requestedTokenTypes.join(', ')}`,
      reason: 'not_allowed',
    });
  }
  return type;
}
