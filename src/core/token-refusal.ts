import type { JWTVerifyGetKey } from 'jose';
import { CertboundError, type CertboundErrorCode, type FailureReason } from './errors.js';
import { classifyJoseError } from './jose-errors.js';
import { ACCESS_TOKEN_JWT_TYP } from './rfc.js';
import { DEFAULTS } from '../defaults.js';

// How a resource words each refusal of a token's JWS and registered claims (docs/errors.md).

/**
 * Keep "no such key" (the token's fault) apart from "could not get keys" (ours): the first is
 * invalid_token, the second must not be blamed on the client.
 */
export function guardKeyResolution(getKey: JWTVerifyGetKey): JWTVerifyGetKey {
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

export function fromJoseError(error: unknown): CertboundError {
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
