import type { IncomingMessage, ServerResponse } from 'node:http';
import { CertboundError } from '../../core/errors.js';
import { sendTokenResponse } from '../../server/respond.js';
import type { PeerCertificate } from '../../server/peer-certificate.js';
import { authenticateRequest } from '../client.js';
import { reportRefusal } from '../events.js';
import { grantParameters, GRANTS } from '../grants/registry.js';
import type { IssuedToken } from '../grants/grant.js';
import { currentSigningKey } from '../keys.js';
import type { ResolvedStsOptions } from '../options.js';

/**
 * `POST /token` (RFC 6749 §3.2): authenticate the client, find the grant, check the parameters it
 * declares, let it decide and issue. Every outcome is reported (token.issued or token.refused).
 */
export async function handleTokenRequest(req: IncomingMessage, res: ServerResponse, options: ResolvedStsOptions): Promise<void> {
  let certificate: PeerCertificate | undefined;
  let outcome: { issued: IssuedToken; clientId: string; grantType: string };
  // One clock reading per request: every decision below is made at the same moment.
  const now = options.now();
  try {
    const request = await authenticateRequest(req, options, now, (seen) => (certificate = seen));
    const { client, parameters } = request;
    const grantType = parameters.required('grant_type');
    const grant = GRANTS.get(grantType);
    if (grant === undefined) {
      throw new CertboundError('CB_GRANT_TYPE_UNSUPPORTED', { description: `grant_type ${grantType} is not supported` });
    }
    if (!client.grantTypes.includes(grantType)) {
      throw new CertboundError('CB_CLIENT_GRANT_NOT_ALLOWED', {
        description: `client ${client.clientId} may not use grant_type ${grantType}`,
      });
    }
    const issued = await grant.handle({
      parameters: grantParameters(grant, parameters),
      client,
      certificate: request.certificate,
      issuer: options.issuer,
      policy: options.policy,
      signingKey: currentSigningKey(options.keys, Math.floor(now / 1000)),
      accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds,
      now,
      keysFor: options.keysFor,
    });
    outcome = { issued, clientId: client.clientId, grantType };
  } catch (error) {
    throw reportRefusal('token.refused', error, certificate, options.onEvent);
  }
  sendTokenResponse(res, { ...outcome.issued.response });
  options.onEvent({
    type: 'token.issued',
    clientId: outcome.clientId,
    subject: outcome.issued.subject,
    jti: outcome.issued.jti,
    thumbprint: (certificate as PeerCertificate).thumbprint,
    grantType: outcome.grantType,
  });
}
