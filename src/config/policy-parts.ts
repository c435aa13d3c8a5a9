import { X509Certificate } from 'node:crypto';
import * as v from 'valibot';
import { canonicalDistinguishedName } from '../pki/distinguished-name.js';
import { MATCHER_FIELDS, type CertificateMatcher } from '../core/certificate/matcher.js';
import type { IssuancePolicy } from '../core/policy/types.js';
import { ISSUABLE_TOKEN_TYPES } from '../core/rfc.js';
import { isScopeToken } from '../core/scope.js';
import { compileSpiffePattern } from '../core/spiffe.js';
import { computeThumbprint, isWellFormedThumbprint } from '../core/thumbprint.js';
import { DEFAULTS } from '../defaults.js';
import { flag, integer, list, mapping, pathItem, text, texts } from '../core/schema.js';

/** The pieces of a policy document that clients, subject tokens and issuer rules share. */

export const THUMBPRINT_PROBLEM = 'must be a base64url SHA-256 thumbprint without padding (43 characters)';
export const thumbprint = v.pipe(
  text,
  v.check((value: string) => isWellFormedThumbprint(value), THUMBPRINT_PROBLEM),
);

/**
 * A certificate matcher (RFC 8705 §2.1.2 names): exactly one field; a subject DN is stored in its
 * canonical form, a SPIFFE pattern must compile.
 */
export const matcher = v.pipe(
  v.custom<Record<string, unknown>>((input) => input !== null && typeof input === 'object' && !Array.isArray(input), 'must be a mapping'),
  v.check(
    (entry) => Object.keys(entry).length === 1 && (MATCHER_FIELDS as readonly string[]).includes(Object.keys(entry)[0] as string),
    `must have exactly one of ${MATCHER_FIELDS.join(', ')}`,
  ),
  v.rawTransform(({ dataset, addIssue, NEVER }): CertificateMatcher => {
    const entry = dataset.value;
    const field = Object.keys(entry)[0] as (typeof MATCHER_FIELDS)[number];
    const fail = (problem: string): typeof NEVER => {
      addIssue({ message: problem, path: [pathItem(entry, field)] });
      return NEVER;
    };
    const value = entry[field];
    if (typeof value !== 'string' || value.length === 0) return fail('must be a non-empty string');
    if (field === 'subject_dn') {
      try {
        return { subject_dn: canonicalDistinguishedName(value) };
      } catch (error) {
        return fail((error as Error).message);
      }
    }
    if (field === 'x5t#S256' && !isWellFormedThumbprint(value)) return fail(THUMBPRINT_PROBLEM);
    if (field === 'spiffe_id') {
      try {
        compileSpiffePattern(value);
      } catch (error) {
        return fail((error as Error).message);
      }
    }
    return { [field]: value } as CertificateMatcher;
  }),
);

/** The keys of what may be issued, shared by clients (client_credentials), subject tokens and issuer rules. */
export const issuanceEntries = (audiencesRequired: boolean) => ({
  audiences: audiencesRequired ? v.pipe(v.optional(texts, []), v.minLength(1, 'must list at least one audience')) : v.optional(texts, []),
  scopes: v.optional(
    list(
      v.pipe(
        text,
        v.check((value: string) => isScopeToken(value), 'is not an RFC 6749 §3.3 scope token'),
      ),
    ),
    [],
  ),
  narrow_scopes: flag(false),
  max_token_lifetime: v.optional(
    integer(
      1,
      DEFAULTS.sts.maxAccessTokenLifetimeSeconds,
      `must be an integer number of seconds from 1 to ${DEFAULTS.sts.maxAccessTokenLifetimeSeconds}`,
    ),
  ),
  requested_token_types: v.optional(list(v.picklist(ISSUABLE_TOKEN_TYPES, `must be one of ${ISSUABLE_TOKEN_TYPES.join(', ')}`)), [
    ...ISSUABLE_TOKEN_TYPES,
  ]),
});

/** The issuance keys of an entry, typed. */
export function issuanceOf(entry: {
  audiences: string[];
  scopes: string[];
  narrow_scopes: boolean;
  max_token_lifetime?: number | undefined;
  requested_token_types: string[];
}): IssuancePolicy {
  return {
    audiences: entry.audiences,
    scopes: entry.scopes,
    narrowScopes: entry.narrow_scopes,
    maxTokenLifetimeSeconds: entry.max_token_lifetime,
    requestedTokenTypes: entry.requested_token_types,
  };
}

/** x5t#S256 of the first certificate of every key's x5c (RFC 7517 §4.7: standard base64 DER). */
export const x5cThumbprints = v.pipe(
  mapping({
    keys: list(
      v.looseObject(
        {
          x5c: v.optional(
            v.pipe(
              list(v.unknown()),
              v.rawTransform(({ dataset, addIssue, NEVER }) => {
                const first = dataset.value[0];
                const at: [v.ArrayPathItem] = [{ type: 'array', origin: 'value', input: dataset.value, key: 0, value: first }];
                if (typeof first !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(first)) {
                  addIssue({ message: 'must be a base64 DER certificate', path: at });
                  return NEVER;
                }
                const der = Buffer.from(first, 'base64');
                try {
                  new X509Certificate(der);
                } catch {
                  addIssue({ message: 'is not a certificate', path: at });
                  return NEVER;
                }
                return computeThumbprint(der);
              }),
            ),
          ),
        },
        'must be a mapping',
      ),
    ),
  }),
  v.transform((jwks) => jwks.keys.flatMap((key) => (key.x5c === undefined ? [] : [key.x5c]))),
  v.check((thumbprints) => thumbprints.length > 0, 'no key has an x5c certificate'),
);

/** One problem `problem` at `key` of the entry being checked (or the entry itself). */
export type Fail = (problem: string, key?: string) => never;

/** A cross-field check of a mapping that builds its typed form, failing at a key of it. */
export function checked<T extends Record<string, unknown>, R>(build: (entry: T, fail: Fail) => R) {
  return v.rawTransform<T, R>(({ dataset, addIssue, NEVER }) => {
    const failure = Symbol('failed');
    try {
      return build(dataset.value, (problem, key) => {
        addIssue({ message: problem, ...(key === undefined ? {} : { path: [pathItem(dataset.value, key)] }) });
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- a private sentinel, caught just below
        throw failure;
      });
    } catch (error) {
      if (error === failure) return NEVER;
      throw error;
    }
  });
}
