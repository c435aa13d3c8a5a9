import type { JSONWebKeySet } from 'jose';
import type { CertificateMatcher } from '../certificate/matcher.js';
import type { AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH, AUTH_METHOD_TLS_CLIENT_AUTH, AsymmetricAlgorithm } from '../rfc.js';

export type ClientAuthMethod = typeof AUTH_METHOD_TLS_CLIENT_AUTH | typeof AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH;

/** What a client or subject may be issued: shared by clients (client_credentials) and subjects. */
export interface IssuancePolicy {
  /** Audiences and resources (RFC 8693 audience / RFC 8707 resource) tokens may be issued for. */
  audiences: string[];
  scopes: string[];
  /** Drop requested scopes outside `scopes` instead of refusing with invalid_scope (default false). */
  narrowScopes: boolean;
  /** Upper bound on the lifetime of tokens issued here, in seconds (the STS default applies below it). */
  maxTokenLifetimeSeconds: number | undefined;
  /** requested_token_type values allowed (default: every type the STS issues). */
  requestedTokenTypes: string[];
}

/**
 * A client, authenticated by its certificate: RFC 8705 §2.1 `tls_client_auth` (a CA-verified
 * certificate matching `certificate`) or §2.2 `self_signed_tls_client_auth` (one of the
 * registered certificates, no CA).
 */
export interface ClientRegistration extends IssuancePolicy {
  clientId: string;
  authMethod: ClientAuthMethod;
  /** tls_client_auth: which CA-verified certificates are this client. */
  certificate: CertificateMatcher | undefined;
  /** self_signed_tls_client_auth: x5t#S256 of the registered certificates (also from a JWKS's x5c). */
  selfSignedThumbprints: string[];
  grantTypes: string[];
  /** Where the issued client_id comes from: the registration, or the certificate's SPIFFE ID. */
  clientIdFrom: 'registration' | 'spiffe_id';
  /** client_credentials: whether `sub` is the client_id or the certificate's SPIFFE ID. */
  subjectFrom: 'client_id' | 'spiffe_id';
  /** May call the RFC 7662 introspection endpoint (a resource server); sees only tokens for its `audiences` when it has any. */
  introspection: boolean;
  /**
   * May exchange subject and actor tokens bound (cnf x5t#S256) to other certificates: a gateway
   * that terminates its callers' mutual TLS and checked each token's binding itself. The issued
   * token is bound to this client's certificate and names it in `act`. Default false.
   */
  exchangeBoundTokens: boolean;
}

/** A static subject token, stored only as its SHA-256, and what its holder may ask for. */
export interface SubjectCredential extends IssuancePolicy {
  /** Lower-case hex SHA-256 of the subject token. */
  sha256: string;
  subject: string;
  /** When set, only a client certificate matching this may present the subject token. */
  clientCertificate: CertificateMatcher | undefined;
  /** Accepted subject_token_type values. */
  tokenTypes: string[];
  /** Subjects of actor tokens that may act for this subject (RFC 8693 §1.1 delegation). */
  mayAct: string[];
}

/** Who may get what, for one subject (or subject pattern) of a trusted issuer's JWTs. */
export interface FederatedSubjectRule extends IssuancePolicy {
  /** The mapped subject, exactly, or a pattern where `*` stands for any run of characters. */
  subject: string;
  /** When set, only a client certificate matching this may present tokens for this subject. */
  clientCertificate: CertificateMatcher | undefined;
  /** Subjects of actor tokens that may act for this subject (RFC 8693 §1.1 delegation). */
  mayAct: string[];
}

/** Where a trusted issuer's keys come from. Files are read by the loader before parsing. */
export type IssuerKeySource = { jwks: JSONWebKeySet } | { jwksUri: string; ca: string | undefined };

/** An identity provider whose JWTs are accepted as subject (and actor) tokens. */
export interface TrustedIssuer {
  issuer: string;
  keySource: IssuerKeySource;
  /** Accepted `aud` of subject tokens: the STS's own identifiers (at least one must be named). */
  audiences: string[];
  algorithms: AsymmetricAlgorithm[];
  /** Refuse tokens issued (`iat`) longer ago than this. */
  maxAgeSeconds: number | undefined;
  /** Accepted subject_token_type URNs. */
  tokenTypes: string[];
  /** The claim that becomes the issued token's `sub`. */
  subjectClaim: string;
  /** Claims copied from the subject token into the issued token. */
  copyClaims: string[];
  subjects: FederatedSubjectRule[];
}

export interface Policy {
  clients: ClientRegistration[];
  subjectTokens: SubjectCredential[];
  trustedIssuers: TrustedIssuer[];
}
