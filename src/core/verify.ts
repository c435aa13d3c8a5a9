import type { JWTHeaderParameters, JWTPayload } from 'jose';
import { parseScope } from './scope.js';
import { CertboundError } from './errors.js';
import { createFastJwsVerification, type JwsVerification } from './fast-verify.js';
import { verifyWithJose } from './jose-verify.js';
import { malformedNumericDate } from './numeric-date.js';
import { readConfirmation } from './confirmation.js';
import { thumbprintsEqual } from './thumbprint.js';
import { guardKeyResolution } from './token-refusal.js';
import { resolveVerifierOptions, type VerifierOptions } from './verifier-options.js';

export type { VerifierOptions } from './verifier-options.js';

/** What a resource learns from a token that passed every check. */
export interface VerifiedToken {
  subject: string;
  clientId: string | undefined;
  scopes: string[];
  /** x5t#S256 of the certificate the token was presented with (and is bound to). */
  thumbprint: string;
  claims: JWTPayload;
  header: JWTHeaderParameters;
}

export interface BoundTokenVerifier {
  /**
   * Verify an access token presented on a TLS connection whose client certificate has the given
   * thumbprint (undefined when the client sent none).
   * @throws CertboundError with a CB_TOKEN_*, CB_CNF_*, CB_CLIENT_CERT_MISSING or CB_JWKS_UNAVAILABLE code.
   */
  verify(token: string, peerThumbprint: string | undefined): Promise<VerifiedToken>;
}

/**
 * A verifier for RFC 9068 JWT access tokens bound to a client certificate (RFC 8705 §3).
 * Options are validated here, once; a bad option is a ConfigError (a TypeError).
 *
 * @example
 * const verifier = createBoundTokenVerifier({ keys: jwks, issuer: 'https://sts.domain.com:8081', audience: 'https://server.domain.com:8443' });
 * const { subject } = await verifier.verify(token, computeThumbprint(peerCertificateDer));
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export function createBoundTokenVerifier(options: VerifierOptions): BoundTokenVerifier {
  const resolved = resolveVerifierOptions(options);
  return boundVerifier(createFastJwsVerification(resolved));
}

/**
 * @internal jose alone, without the fast path: the reference the tests run the adversarial
 * corpus through next to createBoundTokenVerifier, expecting the same verdict for every token.
 */
export function createJoseReferenceVerifier(options: VerifierOptions): BoundTokenVerifier {
  const resolved = resolveVerifierOptions(options);
  const getKey = guardKeyResolution(resolved.keys);
  return boundVerifier((token) => verifyWithJose(token, getKey, resolved, resolved.now()));
}

/** RFC 8705 §3 and RFC 9068 §2.2 on top of a JWS and claims-set verification. */
function boundVerifier(verifySignedToken: JwsVerification): BoundTokenVerifier {
  return {
    async verify(token, peerThumbprint) {
      if (peerThumbprint === undefined) {
        throw new CertboundError('CB_CLIENT_CERT_MISSING', {
          description: 'a client certificate is required to use a certificate-bound token',
          reason: 'missing',
        });
      }
      const { payload, header: protectedHeader } = await verifySignedToken(token);
      const badDate = malformedNumericDate(payload);
      if (badDate !== undefined) throw claimInvalid(`${badDate} claim must be a whole number of seconds`);
      requireBinding(payload, peerThumbprint);
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
        throw claimInvalid('sub claim must be a non-empty string');
      }
      if (payload.scope !== undefined && typeof payload.scope !== 'string') {
        throw claimInvalid('scope claim must be a string');
      }
      return {
        subject: payload.sub,
        clientId: typeof payload.client_id === 'string' ? payload.client_id : undefined,
        scopes: parseScope(payload.scope as string | undefined),
        thumbprint: peerThumbprint,
        claims: payload,
        header: protectedHeader,
      };
    },
  };
}

/**
 * Require every scope in `required` to have been granted (RFC 6750 §3.1 insufficient_scope).
 * @throws CertboundError CB_SCOPE_INSUFFICIENT naming the missing scopes.
 */
export function requireScopes(token: VerifiedToken, required: readonly string[]): void {
  const missing = required.filter((scope) => !token.scopes.includes(scope));
  if (missing.length > 0) {
    throw new CertboundError('CB_SCOPE_INSUFFICIENT', {
      description: `token lacks the required scope ${missing.join(' ')}`,
      reason: 'missing',
    });
  }
}

/** The token's cnf must confirm exactly the certificate on this connection (RFC 8705 §3.1). */
function requireBinding(payload: JWTPayload, peerThumbprint: string): void {
  const confirmation = readConfirmation(payload.cnf);
  switch (confirmation.kind) {
    case 'none':
      throw new CertboundError('CB_CNF_MISSING', { description: 'token is not certificate-bound (no cnf claim)', reason: 'missing' });
    case 'malformed':
      throw cnfMalformed(
        confirmation.member === 'cnf'
          ? 'cnf claim must be a JSON object'
          : 'cnf x5t#S256 must be 43 base64url characters without padding (RFC 8705 section 3.1)',
      );
    case 'other':
      throw new CertboundError('CB_CNF_MISSING', { description: 'token has no cnf x5t#S256 certificate thumbprint', reason: 'missing' });
    case 'certificate':
      if (!thumbprintsEqual(confirmation.thumbprint, peerThumbprint)) {
        throw new CertboundError('CB_CNF_MISMATCH', {
          description: 'token is bound to a different client certificate',
          detail: `token x5t#S256=${confirmation.thumbprint}, connection x5t#S256=${peerThumbprint}`,
          reason: 'mismatch',
        });
      }
  }
}

function cnfMalformed(description: string): CertboundError {
  return new CertboundError('CB_CNF_MALFORMED', { description, reason: 'malformed' });
}

function claimInvalid(description: string): CertboundError {
  return new CertboundError('CB_TOKEN_CLAIM_INVALID', { description, reason: 'malformed' });
}
