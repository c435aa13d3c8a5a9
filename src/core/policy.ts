import { createHash } from 'node:crypto';
import { canonicalDistinguishedName, certificateMatches, MATCHER_FIELDS, type CertificateFacts, type CertificateMatcher } from './certificate.js';
import { CertboundError } from './errors.js';
import { GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN } from './rfc.js';

/** A client, authenticated by its certificate (RFC 8705 §2.1 tls_client_auth). */
export interface ClientRegistration {
  clientId: string;
  certificate: CertificateMatcher;
  grantTypes: string[];
}

/** A static subject token, stored only as its SHA-256, and what its holder may ask for. */
export interface SubjectCredential {
  /** Lower-case hex SHA-256 of the subject token. */
  sha256: string;
  subject: string;
  /** When set, only a client certificate matching this may present the subject token. */
  clientCertificate: CertificateMatcher | undefined;
  /** Accepted subject_token_type values. */
  tokenTypes: string[];
  /** Audiences and resources (RFC 8693 audience / resource) the subject may target. */
  audiences: string[];
  scopes: string[];
}

export interface Policy {
  clients: ClientRegistration[];
  subjectTokens: SubjectCredential[];
}

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
  knownKeys(doc, prefix, ['clients', 'subject_tokens']);
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
  return { clients, subjectTokens };
}

function parseClient(raw: unknown, path: string): ClientRegistration {
  const entry = object(raw, path);
  knownKeys(entry, path, ['client_id', 'certificate', 'grant_types']);
  return {
    clientId: string(entry.client_id, `${path}.client_id`),
    certificate: parseMatcher(entry.certificate, `${path}.certificate`),
    // Which grant types exist is the STS's registry's business (sts/grants); it checks these.
    grantTypes: entry.grant_types === undefined ? [GRANT_TYPE_TOKEN_EXCHANGE] : strings(entry.grant_types, `${path}.grant_types`),
  };
}

function parseSubjectCredential(raw: unknown, path: string): SubjectCredential {
  const entry = object(raw, path);
  knownKeys(entry, path, ['sha256', 'subject', 'client_certificate', 'token_types', 'audiences', 'scopes']);
  const sha256 = string(entry.sha256, `${path}.sha256`).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new PolicyError(`${path}.sha256`, 'must be 64 hex characters (SHA-256 of the subject token)');
  const audiences = strings(entry.audiences, `${path}.audiences`);
  if (audiences.length === 0) throw new PolicyError(`${path}.audiences`, 'must list at least one audience');
  const scopes = entry.scopes === undefined ? [] : strings(entry.scopes, `${path}.scopes`);
  scopes.forEach((scope, i) => {
    if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope)) throw new PolicyError(`${path}.scopes[${i}]`, 'is not an RFC 6749 §3.3 scope token');
  });
  return {
    sha256,
    subject: string(entry.subject, `${path}.subject`),
    clientCertificate: entry.client_certificate === undefined ? undefined : parseMatcher(entry.client_certificate, `${path}.client_certificate`),
    tokenTypes: entry.token_types === undefined ? [TOKEN_TYPE_ACCESS_TOKEN] : strings(entry.token_types, `${path}.token_types`),
    audiences,
    scopes,
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
  if (field === 'x5t#S256' && !/^[A-Za-z0-9_-]{43}$/.test(value)) {
    throw new PolicyError(`${path}.x5t#S256`, 'must be a base64url SHA-256 thumbprint without padding (43 characters)');
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

/** The registered client a certificate authenticates as (RFC 8705 §2.1), or undefined. */
export function findClient(policy: Policy, certificate: CertificateFacts): ClientRegistration | undefined {
  return policy.clients.find((client) => certificateMatches(client.certificate, certificate));
}

/** SHA-256 hex of a subject token, the only form in which static subject tokens are stored. */
export function hashSubjectToken(subjectToken: string): string {
  return createHash('sha256').update(subjectToken, 'utf8').digest('hex');
}

/**
 * Which subject a static subject token stands for, checked against the presenting certificate.
 * @throws CertboundError CB_SUBJECT_TOKEN_INVALID, CB_TOKEN_TYPE_UNSUPPORTED or CB_SUBJECT_TOKEN_NOT_FOR_CLIENT.
 */
export function authenticateSubjectToken(
  policy: Policy,
  subjectToken: string,
  subjectTokenType: string,
  certificate: CertificateFacts,
): SubjectCredential {
  const hash = hashSubjectToken(subjectToken);
  const credential = policy.subjectTokens.find((entry) => entry.sha256 === hash);
  if (credential === undefined) {
    throw new CertboundError('CB_SUBJECT_TOKEN_INVALID', { description: 'subject_token is not valid', reason: 'unknown' });
  }
  if (!credential.tokenTypes.includes(subjectTokenType)) {
    throw new CertboundError('CB_TOKEN_TYPE_UNSUPPORTED', {
      description: `subject_token_type ${subjectTokenType} is not accepted for this subject token`,
      reason: 'not_allowed',
    });
  }
  if (credential.clientCertificate !== undefined && !certificateMatches(credential.clientCertificate, certificate)) {
    throw new CertboundError('CB_SUBJECT_TOKEN_NOT_FOR_CLIENT', {
      description: 'subject_token was not issued to this client certificate',
      detail: `subject=${credential.subject} presented by x5t#S256=${certificate.thumbprint}`,
      reason: 'mismatch',
    });
  }
  return credential;
}

/** Every requested audience/resource must be allowed; nothing is silently dropped (RFC 8693 §2.2.2). */
export function authorizeAudiences(credential: SubjectCredential, requested: readonly string[]): string[] {
  const refused = requested.filter((target) => !credential.audiences.includes(target));
  if (refused.length > 0) {
    throw new CertboundError('CB_TARGET_NOT_ALLOWED', {
      description: `not allowed to request a token for ${refused.join(', ')}`,
      reason: 'not_allowed',
    });
  }
  return [...new Set(requested)];
}

/** Every requested scope must be allowed (RFC 6749 §5.2 invalid_scope); none requested, none granted. */
export function authorizeScopes(credential: SubjectCredential, requested: readonly string[]): string[] {
  const refused = requested.filter((scope) => !credential.scopes.includes(scope));
  if (refused.length > 0) {
    throw new CertboundError('CB_SCOPE_NOT_ALLOWED', {
      description: `scope not allowed: ${refused.join(' ')}`,
      reason: 'not_allowed',
    });
  }
  return [...requested];
}
