import * as v from 'valibot';
import { ConfigError } from '../core/config-error.js';
import type { CertificateMatcher } from '../core/certificate/matcher.js';
import type { ClientRegistration, Policy, SubjectCredential } from '../core/policy/types.js';
import {
  AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH,
  AUTH_METHOD_TLS_CLIENT_AUTH,
  GRANT_TYPE_TOKEN_EXCHANGE,
  TOKEN_TYPE_ACCESS_TOKEN,
} from '../core/rfc.js';
import { checked, issuanceEntries, issuanceOf, matcher, thumbprint, x5cThumbprints, type Fail } from './policy-parts.js';
import { TRUSTED_ISSUER } from './trusted-issuer-policy.js';
import { flag, list, mapping, oneOf, parseWith, text, texts } from '../core/schema.js';

/** A policy problem, naming where in the document it is (`policy.subject_tokens[1].sha256`). */
export class PolicyError extends ConfigError {
  constructor(path: string, problem: string) {
    super(path, problem, `${path}: ${problem}`);
    this.name = 'PolicyError';
  }
}

/**
 * Validate a parsed policy document (YAML or JSON) and return it in typed form. The schema below
 * is the policy's reference: docs/configuration.md describes each key.
 * @param prefix path of the document inside its file, for error messages (e.g. `policy`).
 * @throws PolicyError naming the path and the problem.
 */
export function parsePolicy(raw: unknown, prefix = 'policy'): Policy {
  return parseWith(POLICY, raw, prefix, (path, problem) => new PolicyError(path, problem));
}

/** Each value of a list once, or the problem `problem(value)` at the repeat. */
function unique<T>(key: (item: T) => string, problem: (value: string) => string, field: string) {
  return v.rawCheck<T[]>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const seen = new Set<string>();
    dataset.value.forEach((item, i) => {
      const value = key(item);
      if (seen.has(value)) {
        addIssue({
          message: problem(value),
          path: [
            { type: 'array', origin: 'value', input: dataset.value, key: i, value: item },
            { type: 'object', origin: 'value', input: item as Record<string, unknown>, key: field, value },
          ],
        });
      }
      seen.add(value);
    });
  });
}

const CLIENT = v.pipe(
  mapping({
    client_id: text,
    auth_method: v.optional(
      oneOf(
        [AUTH_METHOD_TLS_CLIENT_AUTH, AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH],
        `must be ${AUTH_METHOD_TLS_CLIENT_AUTH} (RFC 8705 §2.1) or ${AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH} (§2.2)`,
      ),
      AUTH_METHOD_TLS_CLIENT_AUTH,
    ),
    certificate: v.optional(v.unknown()),
    certificates: v.optional(v.unknown()),
    jwks: v.optional(v.unknown()),
    // Which grant types exist is the STS's registry's business (sts/grants); it checks these.
    grant_types: v.optional(texts, [GRANT_TYPE_TOKEN_EXCHANGE]),
    client_id_from: v.optional(oneOf(['registration', 'spiffe_id']), 'registration'),
    subject_from: v.optional(oneOf(['client_id', 'spiffe_id']), 'client_id'),
    introspection: flag(false),
    exchange_bound_tokens: flag(false),
    ...issuanceEntries(false),
  }),
  checked((entry, fail): ClientRegistration => {
    let certificate: CertificateMatcher | undefined;
    let selfSigned: string[] = [];
    if (entry.auth_method === AUTH_METHOD_TLS_CLIENT_AUTH) {
      if (entry.certificates !== undefined || entry.jwks !== undefined)
        fail(`certificates and jwks are for ${AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH}; ${AUTH_METHOD_TLS_CLIENT_AUTH} uses certificate`);
      certificate = nested(matcher, entry.certificate, 'certificate', fail);
    } else {
      if (entry.certificate !== undefined)
        fail(
          `${AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH} registers whole certificates: use certificates (x5t#S256 list) or jwks (x5c)`,
          'certificate',
        );
      selfSigned = [
        ...(entry.certificates === undefined ? [] : nested(list(thumbprint), entry.certificates, 'certificates', fail)),
        ...(entry.jwks === undefined ? [] : nested(x5cThumbprints, entry.jwks, 'jwks', fail)),
      ];
      if (selfSigned.length === 0) fail('a self-signed client must register at least one certificate (certificates or jwks)');
    }
    if (
      (entry.client_id_from === 'spiffe_id' || entry.subject_from === 'spiffe_id') &&
      (certificate === undefined || !('spiffe_id' in certificate))
    ) {
      fail('client_id_from/subject_from spiffe_id needs certificate: { spiffe_id: ... }');
    }
    return {
      clientId: entry.client_id,
      authMethod: entry.auth_method,
      certificate,
      selfSignedThumbprints: selfSigned,
      grantTypes: entry.grant_types,
      clientIdFrom: entry.client_id_from,
      subjectFrom: entry.subject_from,
      introspection: entry.introspection,
      exchangeBoundTokens: entry.exchange_bound_tokens,
      ...issuanceOf(entry),
    };
  }),
);

/**
 * A value checked by `schema` inside a cross-field check, its problems reported under `key`.
 * (Whether such a value is needed at all depends on another key, e.g. auth_method.)
 */
function nested<T extends v.GenericSchema>(schema: T, value: unknown, key: string, fail: Fail): v.InferOutput<T> {
  const result = v.safeParse(schema, value, { abortEarly: true, abortPipeEarly: true });
  if (result.success) return result.output;
  const issue = result.issues[0];
  const inner = (issue.path ?? [])
    .map((item) =>
      typeof (item as { key?: unknown }).key === 'number'
        ? `[${String((item as { key: number }).key)}]`
        : `.${String((item as { key?: unknown }).key)}`,
    )
    .join('');
  return fail(issue.message, `${key}${inner}`);
}

const SUBJECT_TOKEN = v.pipe(
  mapping({
    sha256: v.pipe(text, v.toLowerCase(), v.regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters (SHA-256 of the subject token)')),
    subject: text,
    client_certificate: v.optional(matcher),
    token_types: v.optional(texts, [TOKEN_TYPE_ACCESS_TOKEN]),
    may_act: v.optional(texts, []),
    ...issuanceEntries(true),
  }),
  v.transform((entry): SubjectCredential => ({
    ...issuanceOf(entry),
    sha256: entry.sha256,
    subject: entry.subject,
    clientCertificate: entry.client_certificate,
    tokenTypes: entry.token_types,
    mayAct: entry.may_act,
  })),
);

const POLICY = v.pipe(
  mapping({
    clients: v.pipe(
      list(CLIENT),
      v.minLength(1, 'at least one client must be registered'),
      unique(
        (client) => client.clientId,
        (id) => `duplicate client_id "${id}"`,
        'client_id',
      ),
    ),
    subject_tokens: v.optional(
      v.pipe(
        list(SUBJECT_TOKEN),
        unique(
          (token) => token.sha256,
          () => 'duplicate subject token',
          'sha256',
        ),
      ),
      [],
    ),
    trusted_issuers: v.optional(
      v.pipe(
        list(TRUSTED_ISSUER),
        unique(
          (issuer) => issuer.issuer,
          (iss) => `duplicate issuer "${iss}"`,
          'issuer',
        ),
      ),
      [],
    ),
  }),
  v.transform((doc): Policy => ({ clients: doc.clients, subjectTokens: doc.subject_tokens, trustedIssuers: doc.trusted_issuers })),
);
