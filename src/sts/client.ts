import type { IncomingMessage } from 'node:http';
import { authenticateClient, requireTrustableCertificate } from '../core/client-authentication.js';
import { CertboundError } from '../core/errors.js';
import type { ClientRegistration } from '../core/policy/types.js';
import { parseTokenRequest, type TokenRequestParameters } from '../core/token-request.js';
import { readBody } from '../server/body.js';
import { peerCertificateOf, type PeerCertificate } from '../server/peer-certificate.js';
import type { ResolvedStsOptions } from './options.js';

/** A request to /token or /introspect, its client authenticated (RFC 8705 §2). */
export interface AuthenticatedRequest {
  certificate: PeerCertificate;
  client: ClientRegistration;
  parameters: TokenRequestParameters;
}

/**
 * What /token and /introspect do first, in this order: a client certificate (mutual TLS), the
 * per-certificate rate limit, the TLS layer's verdict on it (before any name is read or any body
 * buffered), the body, then the registration it authenticates, selected by `client_id` when sent.
 * @param seen receives the certificate as soon as there is one, so a refusal can name it.
 */
export async function authenticateRequest(
  req: IncomingMessage,
  options: ResolvedStsOptions,
  nowMs: number,
  seen: (certificate: PeerCertificate) => void,
): Promise<AuthenticatedRequest> {
  const certificate = requireClientCertificate(req);
  seen(certificate);
  enforceRateLimit(certificate, options, nowMs);
  requireTrustableCertificate(certificate, options.policy, nowMs);
  const parameters = parseTokenRequest(req.headers['content-type'], await readBody(req, options.bodyLimitBytes));
  const client = authenticateClient(certificate, {
    policy: options.policy,
    clientId: parameters.optional('client_id'),
    requireClientId: options.requireClientId,
    now: nowMs,
  });
  return { certificate, client, parameters };
}

/** RFC 8705 §2: these endpoints serve only mutual-TLS clients. */
function requireClientCertificate(req: IncomingMessage): PeerCertificate {
  const certificate = peerCertificateOf(req);
  if (certificate === undefined) {
    throw new CertboundError('CB_CLIENT_UNAUTHENTICATED', {
      description: 'a client certificate is required (mutual TLS)',
      reason: 'missing',
    });
  }
  return certificate;
}

/**
 * One bucket per certificate thumbprint, checked before any other work, so a client that floods
 * the STS (registered or not) costs a hash lookup per request, not a policy walk or a signature.
 */
function enforceRateLimit(certificate: PeerCertificate, options: ResolvedStsOptions, nowMs: number): void {
  const decision = options.rateLimiter?.take(certificate.thumbprint, nowMs);
  if (decision === undefined || decision.allowed) return;
  throw new CertboundError('CB_RATE_LIMITED', {
    description: 'too many requests from this client certificate',
    detail: `x5t#S256=${certificate.thumbprint}`,
    retryAfterSeconds: decision.retryAfterSeconds,
  });
}
