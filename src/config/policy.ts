import { X509Certificate } from 'node:crypto';
import { canonicalDistinguishedName } from '../core/certificate/distinguished-name.js';
import { MATCHER_FIELDS, type CertificateMatcher } from '../core/certificate/matcher.js';
import { compileSpiffePattern } from '../core/spiffe.js';
import {
  ASYMMETRIC_ALGORITHMS,
  AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH,
  AUTH_METHOD_TLS_CLIENT_AUTH,
  GRANT_TYPE_TOKEN_EXCHANGE,
  isAsymmetricAlgorithm,
  ISSUABLE_TOKEN_TYPES,
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_ID_TOKEN,
  TOKEN_TYPE_JWT,
} from '../core/rfc.js';
import { computeThumbprint, isWellFormedThumbprint } from '../core/thumbprint.js';
import type { JSONWebKeySet } from 'jose';
import type { ClientRegistration, FederatedSubjectRule, IssuancePolicy, IssuerKeySource, Policy, SubjectCredential, TrustedIssuer } from '../core/policy/types.js';
import type { AsymmetricAlgorithm } from '../core/rfc.js';
import { isScopeToken } from '../core/scope.js';

/** A policy problem, naming where in the document it is (`subject_tokens[1].sha256`). */
export class PolicyError extends TypeError {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'PolicyError';
  }
}

type Json = Record<string, unknown>;

/**
 * Validate a parsed policy document (YAML or JSON) and return it in typed form.
 * @param prefix path of the document inside its file, for error messages (e.g. `policy`).
 * @throws PolicyError naming the path and the problem.
 */
export function parsePolicy(raw: unknown, prefix = 'policy'): Policy {
  const doc = object(raw, prefix);
  knownKeys(doc, prefix, ['clients', 'subject_tokens', 'trusted_issuers']);
  const clients = array(doc.clients, `${prefix}.clients`).map((entry, i) => parseClient(entry, `${prefix}.clients[${i}]`));
  if (clients.length === 0) throw new PolicyError(`${prefix}.clients`, 'at least one client must be registered');
  const seenIds = new Set<string>();
  clients.forEach((client, i) => {
    if (seenIds.has(client.clientId)) throw new PolicyError(`${prefix}.clients[${i}].client_id`, `duplicate client_id "${client.clientId}"`);
    seenIds.add(client.clientId);
  });
  const subjectTokens = array(doc.subject_tokens ?? [], `${prefix}.subject_tokens`).map((entry, i) =>
    parseSubjectCredential(entry, `${prefix}.subject_tokens[${i}]`),
  );
  const seenHashes = new Set<string>();
  subjectTokens.forEach((credential, i) => {
    if (seenHashes.has(credential.sha256)) throw new PolicyError(`${prefix}.subject_tokens[${i}].sha256`, 'duplicate subject token');
    seenHashes.add(credential.sha256);
  });
  const trustedIssuers = array(doc.trusted_issuers ?? [], `${prefix}.trusted_issuers`).map((entry, i) => parseTrustedIssuer(entry, `${prefix}.trusted_issuers[${i}]`));
  const seenIssuers = new Set<string>();
  trustedIssuers.forEach((issuer, i) => {
    if (seenIssuers.has(issuer.issuer)) throw new PolicyError(`${prefix}.trusted_issuers[${i}].issuer`, `duplicate issuer "${issuer.issuer}"`);
    seenIssuers.add(issuer.issuer);
  });
  return { clients, subjectTokens, trustedIssuers };
}

/** Claims an issued token sets itself: a trusted issuer may not have them copied over. */
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'scope', 'cnf', 'act', 'may_act']);
const SUBJECT_TOKEN_TYPES: Record<string, string> = { jwt: TOKEN_TYPE_JWT, id_token: TOKEN_TYPE_ID_TOKEN, access_token: TOKEN_TYPE_ACCESS_TOKEN };

function parseTrustedIssuer(raw: unknown, path: string): TrustedIssuer {
  const entry = object(raw, path);
  knownKeys(entry, path, ['issuer', 'jwks', 'jwks_uri', 'jwks_ca', 'audiences', 'algorithms', 'max_age', 'token_types', 'subject_claim', 'copy_claims', 'subjects']);
  const issuer = string(entry.issuer, `${path}.issuer`);
  if (!URL.canParse(issuer) && !/^[\x21-\x7E]+$/.test(issuer)) throw new PolicyError(`${path}.issuer`, 'must be the exact iss value of the tokens');
  let keySource: IssuerKeySource;
  if ((entry.jwks === undefined) === (entry.jwks_uri === undefined)) throw new PolicyError(path, 'give exactly one of jwks (a key set, or jwks_file in the STS config) and jwks_uri');
  if (entry.jwks !== undefined) {
    const keys = array(object(entry.jwks, `${path}.jwks`).keys, `${path}.jwks.keys`);
    if (keys.length === 0) throw new PolicyError(`${path}.jwks.keys`, 'must list at least one key');
    keys.forEach((key, i) => {
      const jwk = object(key, `${path}.jwks.keys[${i}]`);
      if ('d' in jwk || 'k' in jwk || jwk.kty === 'oct') throw new PolicyError(`${path}.jwks.keys[${i}]`, 'must be a public asymmetric key');
    });
    keySource = { jwks: entry.jwks as JSONWebKeySet };
  } else {
    const uri = string(entry.jwks_uri, `${path}.jwks_uri`);
    if (!URL.canParse(uri) || !uri.startsWith('https://')) throw new PolicyError(`${path}.jwks_uri`, 'must be an https URL');
    keySource = { jwksUri: uri, ca: entry.jwks_ca === undefined ? undefined : string(entry.jwks_ca, `${path}.jwks_ca`) };
  }
  const audiences = strings(entry.audiences, `${path}.audiences`);
  if (audiences.length === 0) throw new PolicyError(`${path}.audiences`, 'must list at least one audience (the STS as the subject tokens name it)');
  const algorithms = entry.algorithms === undefined ? [...ASYMMETRIC_ALGORITHMS] : strings(entry.algorithms, `${path}.algorithms`);
  algorithms.forEach((alg, i) => {
    if (!isAsymmetricAlgorithm(alg)) throw new PolicyError(`${path}.algorithms[${i}]`, 'must be an asymmetric JWS algorithm (RS256, ES256, PS256, EdDSA, ...)');
  });
  const maxAge = entry.max_age;
  if (maxAge !== undefined && (!Number.isInteger(maxAge) || (maxAge as number) < 1)) throw new PolicyError(`${path}.max_age`, 'must be a positive integer number of seconds');
  const tokenTypes = (entry.token_types === undefined ? ['jwt'] : strings(entry.token_types, `${path}.token_types`)).map((type, i) => {
    const urn = SUBJECT_TOKEN_TYPES[type] ?? (Object.values(SUBJECT_TOKEN_TYPES).includes(type) ? type : undefined);
    if (urn === undefined) throw new PolicyError(`${path}.token_types[${i}]`, `must be one of ${Object.keys(SUBJECT_TOKEN_TYPES).join(', ')} (or their URNs)`);
    return urn;
  });
  const copyClaims = entry.copy_claims === undefined ? [] : strings(entry.copy_claims, `${path}.copy_claims`);
  copyClaims.forEach((claim, i) => {
    if (RESERVED_CLAIMS.has(claim)) throw new PolicyError(`${path}.copy_claims[${i}]`, `${claim} is set by the STS itself and cannot be copied`);
  });
  const subjects = array(entry.subjects, `${path}.subjects`).map((rule, i) => parseFederatedSubject(rule, `${path}.subjects[${i}]`));
  if (subjects.length === 0) throw new PolicyError(`${path}.subjects`, 'must list at least one subject rule');
  return {
    issuer,
    keySource,
    audiences,
    algorithms: algorithms as AsymmetricAlgorithm[],
    maxAgeSeconds: maxAge as number | undefined,
    tokenTypes,
    subjectClaim: entry.subject_claim === undefined ? 'sub' : string(entry.subject_claim, `${path}.subject_claim`),
    copyClaims,
    subjects,
  };
}

function parseFederatedSubject(raw: unknown, path: string): FederatedSubjectRule {
  const entry = object(raw, path);
  knownKeys(entry, path, ['subject', 'client_certificate', 'may_act', ...ISSUANCE_KEYS]);
  return {
    subject: string(entry.subject, `${path}.subject`),
    clientCertificate: entry.client_certificate === undefined ? undefined : parseMatcher(entry.client_certificate, `${path}.client_certificate`),
    mayAct: entry.may_act === undefined ? [] : strings(entry.may_act, `${path}.may_act`),
    ...parseIssuancePolicy(entry, path, true),
  };
}

const ISSUANCE_KEYS = ['audiences', 'scopes', 'narrow_scopes', 'max_token_lifetime', 'requested_token_types'] as const;

function parseClient(raw: unknown, path: string): ClientRegistration {
  const entry = object(raw, path);
  knownKeys(entry, path, [
    'client_id', 'auth_method', 'certificate', 'certificates', 'jwks', 'grant_types', 'client_id_from', 'subject_from', 'introspection', 'exchange_bound_tokens', ...ISSUANCE_KEYS,
  ]);
  const introspection = entry.introspection === undefined ? false : entry.introspection;
  if (typeof introspection !== 'boolean') throw new PolicyError(`${path}.introspection`, 'must be true or false');
  const exchangeBoundTokens = entry.exchange_bound_tokens === undefined ? false : entry.exchange_bound_tokens;
  if (typeof exchangeBoundTokens !== 'boolean') throw new PolicyError(`${path}.exchange_bound_tokens`, 'must be true or false');
  const authMethod = entry.auth_method ?? AUTH_METHOD_TLS_CLIENT_AUTH;
  if (authMethod !== AUTH_METHOD_TLS_CLIENT_AUTH && authMethod !== AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH) {
    throw new PolicyError(`${path}.auth_method`, `must be ${AUTH_METHOD_TLS_CLIENT_AUTH} (RFC 8705 §2.1) or ${AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH} (§2.2)`);
  }
  let certificate: CertificateMatcher | undefined;
  let selfSignedThumbprints: string[] = [];
  if (authMethod === AUTH_METHOD_TLS_CLIENT_AUTH) {
    if (entry.certificates !== undefined || entry.jwks !== undefined) throw new PolicyError(path, `certificates and jwks are for ${AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH}; ${AUTH_METHOD_TLS_CLIENT_AUTH} uses certificate`);
    certificate = parseMatcher(entry.certificate, `${path}.certificate`);
  } else {
    if (entry.certificate !== undefined) throw new PolicyError(`${path}.certificate`, `${AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH} registers whole certificates: use certificates (x5t#S256 list) or jwks (x5c)`);
    selfSignedThumbprints = [
      ...(entry.certificates === undefined ? [] : strings(entry.certificates, `${path}.certificates`).map((value, i) => thumbprintValue(value, `${path}.certificates[${i}]`))),
      ...(entry.jwks === undefined ? [] : jwksThumbprints(entry.jwks, `${path}.jwks`)),
    ];
    if (selfSignedThumbprints.length === 0) throw new PolicyError(path, 'a self-signed client must register at least one certificate (certificates or jwks)');
  }
  const clientIdFrom = oneOf(entry.client_id_from, `${path}.client_id_from`, ['registration', 'spiffe_id'] as const, 'registration');
  const subjectFrom = oneOf(entry.subject_from, `${path}.subject_from`, ['client_id', 'spiffe_id'] as const, 'client_id');
  if ((clientIdFrom === 'spiffe_id' || subjectFrom === 'spiffe_id') && (certificate === undefined || !('spiffe_id' in certificate))) {
    throw new PolicyError(path, 'client_id_from/subject_from spiffe_id needs certificate: { spiffe_id: ... }');
  }
  return {
    clientId: string(entry.client_id, `${path}.client_id`),
    authMethod,
    certificate,
    selfSignedThumbprints,
    // Which grant types exist is the STS's registry's business (sts/grants); it checks these.
    grantTypes: entry.grant_types === undefined ? [GRANT_TYPE_TOKEN_EXCHANGE] : strings(entry.grant_types, `${path}.grant_types`),
    clientIdFrom,
    subjectFrom,
    introspection,
    exchangeBoundTokens,
    ...parseIssuancePolicy(entry, path, false),
  };
}

/** audiences/scopes/narrow_scopes/max_token_lifetime/requested_token_types of a client or subject. */
function parseIssuancePolicy(entry: Json, path: string, audiencesRequired: boolean): IssuancePolicy {
  const audiences = entry.audiences === undefined ? [] : strings(entry.audiences, `${path}.audiences`);
  if (audiencesRequired && audiences.length === 0) throw new PolicyError(`${path}.audiences`, 'must list at least one audience');
  const scopes = entry.scopes === undefined ? [] : strings(entry.scopes, `${path}.scopes`);
  scopes.forEach((scope, i) => {
    if (!isScopeToken(scope)) throw new PolicyError(`${path}.scopes[${i}]`, 'is not an RFC 6749 §3.3 scope token');
  });
  const narrow = entry.narrow_scopes === undefined ? false : entry.narrow_scopes;
  if (typeof narrow !== 'boolean') throw new PolicyError(`${path}.narrow_scopes`, 'must be true or false');
  const lifetime = entry.max_token_lifetime;
  if (lifetime !== undefined && (!Number.isInteger(lifetime) || (lifetime as number) < 1 || (lifetime as number) > 86_400)) {
    throw new PolicyError(`${path}.max_token_lifetime`, 'must be an integer number of seconds from 1 to 86400');
  }
  const requestedTokenTypes = entry.requested_token_types === undefined ? [...ISSUABLE_TOKEN_TYPES] : strings(entry.requested_token_types, `${path}.requested_token_types`);
  requestedTokenTypes.forEach((type, i) => {
    if (!(ISSUABLE_TOKEN_TYPES as readonly string[]).includes(type)) throw new PolicyError(`${path}.requested_token_types[${i}]`, `must be one of ${ISSUABLE_TOKEN_TYPES.join(', ')}`);
  });
  return { audiences, scopes, narrowScopes: narrow, maxTokenLifetimeSeconds: lifetime as number | undefined, requestedTokenTypes };
}

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw new PolicyError(path, `must be one of ${allowed.join(', ')}`);
  return value as T;
}

function thumbprintValue(value: string, path: string): string {
  if (!isWellFormedThumbprint(value)) throw new PolicyError(path, 'must be a base64url SHA-256 thumbprint without padding (43 characters)');
  return value;
}

/** x5t#S256 of the first certificate of every key's x5c (RFC 7517 §4.7: standard base64 DER). */
function jwksThumbprints(raw: unknown, path: string): string[] {
  const keys = array(object(raw, path).keys, `${path}.keys`);
  const thumbprints = keys.flatMap((key, i) => {
    const x5c = object(key, `${path}.keys[${i}]`).x5c;
    if (x5c === undefined) return [];
    const first = array(x5c, `${path}.keys[${i}].x5c`)[0];
    if (typeof first !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(first)) throw new PolicyError(`${path}.keys[${i}].x5c[0]`, 'must be a base64 DER certificate');
    const der = Buffer.from(first, 'base64');
    try {
      new X509Certificate(der);
    } catch {
      throw new PolicyError(`${path}.keys[${i}].x5c[0]`, 'is not a certificate');
    }
    return [computeThumbprint(der)];
  });
  if (thumbprints.length === 0) throw new PolicyError(path, 'no key has an x5c certificate');
  return thumbprints;
}

function parseSubjectCredential(raw: unknown, path: string): SubjectCredential {
  const entry = object(raw, path);
  knownKeys(entry, path, ['sha256', 'subject', 'client_certificate', 'token_types', 'may_act', ...ISSUANCE_KEYS]);
  const sha256 = string(entry.sha256, `${path}.sha256`).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new PolicyError(`${path}.sha256`, 'must be 64 hex characters (SHA-256 of the subject token)');
  return {
    ...parseIssuancePolicy(entry, path, true),
    sha256,
    subject: string(entry.subject, `${path}.subject`),
    clientCertificate: entry.client_certificate === undefined ? undefined : parseMatcher(entry.client_certificate, `${path}.client_certificate`),
    tokenTypes: entry.token_types === undefined ? [TOKEN_TYPE_ACCESS_TOKEN] : strings(entry.token_types, `${path}.token_types`),
    mayAct: entry.may_act === undefined ? [] : strings(entry.may_act, `${path}.may_act`),
  };
}

function parseMatcher(raw: unknown, path: string): CertificateMatcher {
  const entry = object(raw, path);
  const keys = Object.keys(entry);
  if (keys.length !== 1 || !(MATCHER_FIELDS as readonly string[]).includes(keys[0] as string)) {
    throw new PolicyError(path, `must have exactly one of ${MATCHER_FIELDS.join(', ')}`);
  }
  const field = keys[0] as (typeof MATCHER_FIELDS)[number];
  const value = string(entry[field], `${path}.${field}`);
  if (field === 'subject_dn') {
    try {
      return { subject_dn: canonicalDistinguishedName(value) };
    } catch (error) {
      throw new PolicyError(`${path}.subject_dn`, (error as Error).message);
    }
  }
  if (field === 'x5t#S256' && !isWellFormedThumbprint(value)) {
    throw new PolicyError(`${path}.x5t#S256`, 'must be a base64url SHA-256 thumbprint without padding (43 characters)');
  }
  if (field === 'spiffe_id') {
    try {
      compileSpiffePattern(value);
    } catch (error) {
      throw new PolicyError(`${path}.spiffe_id`, (error as Error).message);
    }
  }
  return { [field]: value } as CertificateMatcher;
}

function object(value: unknown, path: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new PolicyError(path, 'must be a mapping');
  return value as Json;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new PolicyError(path, 'must be a list');
  return value;
}

function string(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new PolicyError(path, 'must be a non-empty string');
  return value;
}

function strings(value: unknown, path: string): string[] {
  return array(value, path).map((item, i) => string(item, `${path}[${i}]`));
}

function knownKeys(entry: Json, path: string, allowed: readonly string[]): void {
  for (const key of Object.keys(entry)) {
    if (!allowed.includes(key)) throw new PolicyError(`${path}.${key}`, `unknown key (expected one of ${allowed.join(', ')})`);
  }
}

