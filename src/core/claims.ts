import { randomUUID } from 'node:crypto';
import { CNF_X5T_S256 } from './rfc.js';

export interface AccessTokenInput {
  issuer: string;
  subject: string;
  /** One or more audiences (RFC 8693 audience and resource values, in request order). */
  audience: readonly string[];
  clientId: string;
  /** Granted scopes; omitted from the token when empty. */
  scope?: readonly string[];
  /** x5t#S256 of the client certificate the token is bound to. */
  thumbprint: string;
  lifetimeSeconds: number;
  /** Issue time, seconds since the epoch. */
  issuedAt: number;
  /** Unique token id; a random UUID when not given. */
  jti?: string;
  /** RFC 8693 §4.1 actor: who is acting for the subject (with prior actors nested in `act`). */
  act?: Record<string, unknown>;
  /** Further claims (copied from a federated subject token); they never replace the ones above. */
  extraClaims?: Record<string, unknown>;
}

/** RFC 9068 §2.2 claims plus the RFC 8705 §3.1 confirmation. */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope?: string;
  cnf: { [CNF_X5T_S256]: string };
  [claim: string]: unknown;
}

/**
 * The claims of a certificate-bound JWT access token. `exp - iat` is exactly the lifetime, so the
 * token response's `expires_in` can never disagree with the token (the seed sample's bug).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3.1
 */
export function buildAccessTokenClaims(input: AccessTokenInput): AccessTokenClaims {
  const claims: AccessTokenClaims = {
    ...input.extraClaims,
    iss: input.issuer,
    sub: input.subject,
    aud: input.audience.length === 1 ? (input.audience[0] as string) : [...input.audience],
    exp: input.issuedAt + input.lifetimeSeconds,
    iat: input.issuedAt,
    jti: input.jti ?? randomUUID(),
    client_id: input.clientId,
    cnf: { [CNF_X5T_S256]: input.thumbprint },
  };
  if (input.scope !== undefined && input.scope.length > 0) claims.scope = input.scope.join(' ');
  else delete claims.scope;
  if (input.act !== undefined) claims.act = input.act;
  else delete claims.act;
  return claims;
}
