import { certificateMatches } from './certificate/matcher.js';
import { type CertificateFacts } from './certificate/facts.js';
import { CertboundError } from './errors.js';
import { clientIdentity, findClient } from './policy/authorize.js';
import { type ClientRegistration, type Policy } from './policy/types.js';
import { AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH } from './rfc.js';

/** The client certificate of a connection, as client authentication needs it. */
export interface PresentedCertificate {
  /** RFC 8705 x5t#S256 of the certificate. */
  thumbprint: string;
  /** Whether the TLS layer verified the chain (and CRLs) against the configured CA. */
  authorized: boolean;
  /** OpenSSL's reason when not authorized (e.g. CERT_HAS_EXPIRED). */
  authorizationError: string | undefined;
  /** Validity period (ms since the epoch) as the TLS layer read it, without parsing any names. */
  notBefore: number;
  notAfter: number;
  /**
   * Subject DN and SANs. A certificate no CA verified has none here: anyone can write any name
   * into a self-signed certificate.
   * @throws CertboundError CB_CLIENT_UNAUTHENTICATED when the names cannot be parsed.
   */
  facts(): CertificateFacts;
}

export interface ClientAuthenticationInput {
  policy: Policy;
  /** The `client_id` request parameter (RFC 8705 §2), when the client sent one. */
  clientId: string | undefined;
  /** Refuse requests without `client_id`. */
  requireClientId: boolean;
  /** Milliseconds since the epoch. */
  now: number;
}

/**
 * Whether a certificate can be any client at all, judged on the TLS layer's verdict alone, before
 * a single name in it is read: a CA-verified certificate (RFC 8705 §2.1), or one registered
 * whole by its thumbprint (§2.2) and within its validity period. Cheap, so it runs before the
 * request body is read.
 * @throws CertboundError CB_CLIENT_UNAUTHENTICATED
 */
export function requireTrustableCertificate(certificate: PresentedCertificate, policy: Policy, now: number): void {
  if (certificate.authorized) return;
  const registered = policy.clients.some(
    (client) =>
      client.authMethod === AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH && client.selfSignedThumbprints.includes(certificate.thumbprint),
  );
  if (!registered) {
    throw new CertboundError('CB_CLIENT_UNAUTHENTICATED', {
      description: 'client certificate was not issued by a trusted CA or is not valid',
      detail: `${certificate.authorizationError ?? 'unverified'} x5t#S256=${certificate.thumbprint}`,
      reason: 'not_allowed',
    });
  }
  // A self-signed client is trusted because it is registered, not because a CA signed it; the
  // TLS handshake proved the key. Its validity period still applies (an unreadable date fails).
  if (!(now >= certificate.notBefore && now <= certificate.notAfter)) {
    throw new CertboundError('CB_CLIENT_UNAUTHENTICATED', {
      description: 'client certificate is expired or not yet valid',
      detail: `x5t#S256=${certificate.thumbprint}`,
      reason: 'expired',
    });
  }
}

/**
 * The registered client a request authenticates as (RFC 8705 §2). With `client_id`, that
 * registration, and the certificate must satisfy it; without, the first registration the
 * certificate satisfies (the seed's clients send no client_id), unless the STS requires one.
 * Run requireTrustableCertificate first.
 * @throws CertboundError CB_CLIENT_ID_REQUIRED, CB_CLIENT_ID_MISMATCH, CB_CLIENT_NOT_REGISTERED or CB_CLIENT_UNAUTHENTICATED
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2
 */
export function authenticateClient(certificate: PresentedCertificate, input: ClientAuthenticationInput): ClientRegistration {
  const { policy, clientId } = input;
  if (clientId === undefined) {
    if (input.requireClientId) {
      throw new CertboundError('CB_CLIENT_ID_REQUIRED', { description: 'client_id is required (RFC 8705 section 2)', reason: 'missing' });
    }
    const client = findClient(policy, certificate.facts(), certificate.authorized);
    if (client === undefined) {
      throw new CertboundError('CB_CLIENT_NOT_REGISTERED', {
        description: 'client certificate is not registered with this STS',
        detail: `x5t#S256=${certificate.thumbprint}`,
      });
    }
    return client;
  }
  // A registration is named by its client_id, or, when it issues the certificate's SPIFFE ID as
  // the client_id, by that ID.
  const client = policy.clients.find(
    (candidate) => issuedClientIds(candidate, certificate).includes(clientId) && accepts(candidate, certificate),
  );
  if (client !== undefined) return client;
  const known = policy.clients.some((candidate) => candidate.clientId === clientId);
  // One answer for an unknown client_id and for someone else's: the caller learns nothing about
  // which client_ids exist. The log says which it was.
  throw new CertboundError('CB_CLIENT_ID_MISMATCH', {
    description: 'client certificate does not authenticate the client_id given',
    detail: `${known ? `registered client ${clientId}` : 'unknown client_id'} presented by x5t#S256=${certificate.thumbprint}`,
    reason: 'mismatch',
  });
}

/** Whether the certificate satisfies a registration's tls_client_auth or self_signed_tls_client_auth rule. */
function accepts(client: ClientRegistration, certificate: PresentedCertificate): boolean {
  if (client.authMethod === AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH) return client.selfSignedThumbprints.includes(certificate.thumbprint);
  return certificate.authorized && client.certificate !== undefined && certificateMatches(client.certificate, certificate.facts());
}

function issuedClientIds(client: ClientRegistration, certificate: PresentedCertificate): string[] {
  return client.clientIdFrom === 'spiffe_id' ? [client.clientId, clientIdentity(client, certificate.facts()).clientId] : [client.clientId];
}
