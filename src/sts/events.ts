import { toCertboundError, type CertboundError } from '../core/errors.js';
import type { PeerCertificate } from '../server/peer-certificate.js';

/** Outcome of each token and introspection request, for logs and metrics. Never carries a token or secret. */
export type StsEvent = (
  | { type: 'token.issued'; clientId: string; subject: string; jti: string; thumbprint: string; grantType: string }
  | { type: 'token.refused' | 'introspection.refused'; code: string; description: string; detail?: string; thumbprint?: string }
  | { type: 'server.error'; detail: string }
) & {
  /** The request's id (X-Request-Id), on a server that gives requests ids (createStsServer). */
  requestId?: string;
};

/** Every refusal is reported once, with its code and the certificate's thumbprint; internal failures are reported by the router. */
export function reportRefusal(
  type: 'token.refused' | 'introspection.refused',
  error: unknown,
  certificate: PeerCertificate | undefined,
  onEvent: (event: StsEvent) => void,
): CertboundError {
  const failure = toCertboundError(error);
  if (failure.code !== 'CB_INTERNAL') {
    onEvent({
      type,
      code: failure.code,
      description: failure.description,
      ...(failure.detail === undefined ? {} : { detail: failure.detail }),
      ...(certificate === undefined ? {} : { thumbprint: certificate.thumbprint }),
    });
  }
  return failure;
}
