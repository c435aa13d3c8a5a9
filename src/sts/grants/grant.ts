import type { JWTVerifyGetKey } from 'jose';
import type { AccessTokenClaims } from '../../core/claims.js';
import { signAccessToken } from '../../core/signing/jws.js';
import type { Signer } from '../../core/signing/signer.js';
import type { ClientRegistration, Policy, TrustedIssuer } from '../../core/policy/types.js';
import type { TokenRequestParameters } from '../../core/token-request.js';
import type { PeerCertificate } from '../../server/peer-certificate.js';
import type { ParameterRules } from './parameters.js';

/** Everything a grant needs to decide and issue, resolved before it runs. */
export interface GrantContext {
  parameters: TokenRequestParameters;
  client: ClientRegistration;
  certificate: PeerCertificate;
  issuer: string;
  policy: Policy;
  signingKey: Signer;
  accessTokenLifetimeSeconds: number;
  /** Milliseconds since the epoch: the one clock reading of this request. */
  now: number;
  /** Verification keys of a trusted issuer of subject tokens (resolved once by the server). */
  keysFor: (issuer: TrustedIssuer) => JWTVerifyGetKey;
}

/** The token response body (RFC 6749 §5.1 / RFC 8693 §2.2.1). */
export interface TokenResponse {
  access_token: string;
  issued_token_type?: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
}

export interface IssuedToken {
  response: TokenResponse;
  subject: string;
  jti: string;
}

/** One grant type: adding a grant means adding one module that exports this, and listing it in the registry. */
export interface Grant {
  grantType: string;
  /** The parameters it takes, checked before it runs; those of other grants are refused. */
  parameters: ParameterRules;
  handle(context: GrantContext): Promise<IssuedToken>;
}

/** Sign the claims and build the token response (RFC 8693 §2.2.1): the one place grants issue. */
export async function issueAccessToken(claims: AccessTokenClaims, signingKey: Signer, issuedTokenType: string): Promise<IssuedToken> {
  const accessToken = await signAccessToken(claims, signingKey);
  return {
    subject: claims.sub,
    jti: claims.jti,
    response: {
      access_token: accessToken,
      issued_token_type: issuedTokenType,
      token_type: 'Bearer',
      // By construction equal to exp - iat (core/claims.ts).
      expires_in: claims.exp - claims.iat,
      ...(claims.scope === undefined ? {} : { scope: claims.scope }),
    },
  };
}
