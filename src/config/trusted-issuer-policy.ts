import type { JSONWebKeySet } from 'jose';
import * as v from 'valibot';
import type { FederatedSubjectRule, TrustedIssuer } from '../core/policy/types.js';
import {
  ASYMMETRIC_ALGORITHMS,
  isAsymmetricAlgorithm,
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_ID_TOKEN,
  TOKEN_TYPE_JWT,
  type AsymmetricAlgorithm,
} from '../core/rfc.js';
import { list, mapping, text, texts } from '../core/schema.js';
import { checked, issuanceEntries, issuanceOf, matcher } from './policy-parts.js';

/** A policy's trusted_issuers entry: whose JWTs may be exchanged, and which subjects they map to. */

const FEDERATED_SUBJECT = v.pipe(
  mapping({ subject: text, client_certificate: v.optional(matcher), may_act: v.optional(texts, []), ...issuanceEntries(true) }),
  v.transform((entry): FederatedSubjectRule => ({
    subject: entry.subject,
    clientCertificate: entry.client_certificate,
    mayAct: entry.may_act,
    ...issuanceOf(entry),
  })),
);

/** Claims an issued token sets itself: a trusted issuer may not have them copied over. */
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'scope', 'cnf', 'act', 'may_act']);
const SUBJECT_TOKEN_TYPES: Record<string, string> = {
  jwt: TOKEN_TYPE_JWT,
  id_token: TOKEN_TYPE_ID_TOKEN,
  access_token: TOKEN_TYPE_ACCESS_TOKEN,
};
const PUBLIC_KEY = v.pipe(
  v.custom<Record<string, unknown>>((input) => input !== null && typeof input === 'object' && !Array.isArray(input), 'must be a mapping'),
  v.check((jwk) => !('d' in jwk) && !('k' in jwk) && jwk.kty !== 'oct', 'must be a public asymmetric key'),
);

export const TRUSTED_ISSUER = v.pipe(
  mapping({
    issuer: v.pipe(
      text,
      v.check((iss: string) => URL.canParse(iss) || /^[\x21-\x7E]+$/.test(iss), 'must be the exact iss value of the tokens'),
    ),
    jwks: v.optional(mapping({ keys: v.pipe(list(PUBLIC_KEY), v.minLength(1, 'must list at least one key')) })),
    jwks_uri: v.optional(
      v.pipe(
        text,
        v.check((uri: string) => URL.canParse(uri) && uri.startsWith('https://'), 'must be an https URL'),
      ),
    ),
    jwks_ca: v.optional(text),
    audiences: v.pipe(texts, v.minLength(1, 'must list at least one audience (the STS as the subject tokens name it)')),
    algorithms: v.optional(
      list(
        v.pipe(
          text,
          v.check((alg: string) => isAsymmetricAlgorithm(alg), 'must be an asymmetric JWS algorithm (RS256, ES256, PS256, EdDSA, ...)'),
        ),
      ),
      [...ASYMMETRIC_ALGORITHMS],
    ),
    max_age: v.optional(
      v.pipe(
        v.number('must be a positive integer number of seconds'),
        v.integer('must be a positive integer number of seconds'),
        v.minValue(1, 'must be a positive integer number of seconds'),
      ),
    ),
    token_types: v.optional(
      list(
        v.pipe(
          text,
          v.check(
            (type: string) => type in SUBJECT_TOKEN_TYPES || Object.values(SUBJECT_TOKEN_TYPES).includes(type),
            `must be one of ${Object.keys(SUBJECT_TOKEN_TYPES).join(', ')} (or their URNs)`,
          ),
          v.transform((type) => SUBJECT_TOKEN_TYPES[type] ?? type),
        ),
      ),
      [TOKEN_TYPE_JWT],
    ),
    subject_claim: v.optional(text, 'sub'),
    copy_claims: v.optional(
      list(
        v.pipe(
          text,
          v.check(
            (claim: string) => !RESERVED_CLAIMS.has(claim),
            (issue) => `${String(issue.input)} is set by the STS itself and cannot be copied`,
          ),
        ),
      ),
      [],
    ),
    subjects: v.pipe(list(FEDERATED_SUBJECT), v.minLength(1, 'must list at least one subject rule')),
  }),
  checked((entry, fail): TrustedIssuer => {
    if ((entry.jwks === undefined) === (entry.jwks_uri === undefined))
      fail('give exactly one of jwks (a key set, or jwks_file in the STS config) and jwks_uri');
    return {
      issuer: entry.issuer,
      keySource:
        entry.jwks !== undefined ? { jwks: entry.jwks as JSONWebKeySet } : { jwksUri: entry.jwks_uri as string, ca: entry.jwks_ca },
      audiences: entry.audiences,
      algorithms: entry.algorithms as AsymmetricAlgorithm[],
      maxAgeSeconds: entry.max_age,
      tokenTypes: entry.token_types,
      subjectClaim: entry.subject_claim,
      copyClaims: entry.copy_claims,
      subjects: entry.subjects,
    };
  }),
);
