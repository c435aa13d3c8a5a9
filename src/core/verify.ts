import { jwtVerify, type JWTHeaderParameters, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { parseScope } from './scope.js';
import { CertboundError, type CertboundErrorCode, type FailureReason } from './errors.js';
import { classifyJoseError } from './jose-errors.js';
import { malformedNumericDate } from './numeric-date.js';
import { readConfirmation } from './confirmation.js';
import { ACCESS_TOKEN_JWT_TYP } from './rfc.js';
import { thumbprintsEqual } from './thumbprint.js';
import { DEFAULTS } from '../defaults.js';
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
  const getKey = guardKeyResolution(resolved.keys);
  const now = resolved.now;

  return {
    async verify(token, peerThumbprint) {
      if (peerThumbprint === undefined) {
        throw new CertboundError('CB_CLIENT_CERT_MISSING', {
          description: 'a client certificate is required to use a certificate-bound token',
          reason: 'missing',
        });
      }
      let result;
      try {
        result = await jwtVerify(token, getKey, {
          issuer: resolved.issuer,
          audience: resolved.audience,
          algorithms: resolved.algorithms,
          typ: ACCESS_TOKEN_JWT_TYP,
          clockTolerance: resolved.clockToleranceSeconds,
          currentDate: new Date(now()),
          requiredClaims: ['exp', 'iat', 'sub'],
        });
      } catch (error) {
        throw fromJoseError(error);
      }
      const { payload, protectedHeader } = result;
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

/**
 * Keep "no such key" (the token's fault) apart from "could not get keys" (ours): the first is
 * invalid_token, the second must not be blamed on the client.
 */
function guardKeyResolution(getKey: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, input) => {
    try {
      return await getKey(header, input);
    } catch (error) {
      const verdict = classifyJoseError(error).kind;
      if (verdict === 'unknown_key' || verdict === 'malformed' || error instanceof CertboundError) throw error;
      throw keysUnavailable(error);
    }
  };
}

function keysUnavailable(error: unknown): CertboundError {
  return new CertboundError('CB_JWKS_UNAVAILABLE', {
    description: 'the issuer signing keys are unavailable',
    retryAfterSeconds: DEFAULTS.verification.keysUnavailableRetryAfterSeconds,
    detail: error instanceof Error ? error.message : String(error),
    cause: error,
  });
}

/** A resource's verdicts: which code and description each jose failure gets (docs/errors.md). */
const CLAIM_CODES: Readonly<Record<string, [CertboundErrorCode, FailureReason]>> = {
  iss: ['CB_TOKEN_ISSUER_INVALID', 'mismatch'],
  aud: ['CB_TOKEN_AUDIENCE_INVALID', 'mismatch'],
  nbf: ['CB_TOKEN_NOT_YET_VALID', 'not_yet_valid'],
  typ: ['CB_TOKEN_TYPE_INVALID', 'mismatch'],
};

function fromJoseError(error: unknown): CertboundError {
  if (error instanceof CertboundError) return error;
  const verdict = classifyJoseError(error);
  const refuse = (code: CertboundErrorCode, description: string, reason: FailureReason, detail?: string): CertboundError =>
    new CertboundError(code, { description, reason, cause: error, ...(detail === undefined ? {} : { detail }) });
  switch (verdict.kind) {
    case 'expired':
      return refuse('CB_TOKEN_EXPIRED', 'token has expired', 'expired');
    case 'claim': {
      const { claim, reason } = verdict;
      // A claim of the wrong type ("invalid") is malformed, whichever claim it is.
      const mapped = reason === 'invalid' ? undefined : CLAIM_CODES[claim];
      const description =
        claim === 'typ'
          ? `token typ header must be ${ACCESS_TOKEN_JWT_TYP}`
          : reason === 'missing'
            ? `token has no ${claim} claim`
            : reason === 'invalid'
              ? `token ${claim} claim is malformed`
              : `token ${claim} claim is not accepted`;
      return refuse(mapped?.[0] ?? 'CB_TOKEN_CLAIM_INVALID', description, reason === 'missing' ? 'missing' : (mapped?.[1] ?? 'malformed'));
    }
    case 'algorithm':
      return refuse('CB_TOKEN_ALG_NOT_ALLOWED', 'token signing algorithm is not allowed', 'not_allowed');
    case 'unknown_key':
      return refuse(
        'CB_TOKEN_KEY_UNKNOWN',
        verdict.multiple ? 'token key id matches more than one key' : 'token was signed with an unknown key',
        'unknown',
      );
    case 'signature':
      return refuse('CB_TOKEN_SIGNATURE_INVALID', 'token signature is invalid', 'mismatch');
    case 'malformed':
      return refuse(
        'CB_TOKEN_MALFORMED',
        { jws: 'token is not a valid JWS', jwt: 'token is not a valid JWT', unsupported: 'token uses an unsupported JOSE feature' }[
          verdict.what
        ],
        'malformed',
      );
    case 'keys_unavailable':
      return keysUnavailable(error);
    case 'other':
      return refuse('CB_TOKEN_MALFORMED', 'token could not be verified', 'malformed', verdict.message);
  }
}
