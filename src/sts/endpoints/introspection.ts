import type { IncomingMessage, ServerResponse } from 'node:http';
import { CertboundError } from '../../core/errors.js';
import { introspectAccessToken } from '../../core/introspection.js';
import type { PeerCertificate } from '../../server/peer-certificate.js';
import { sendJson } from '../../server/respond.js';
import { authenticateRequest } from '../client.js';
import { reportRefusal } from '../events.js';
import type { ResolvedStsOptions } from '../options.js';

/**
 * RFC 7662 introspection for registered resource servers (`introspection: true`), authenticated
 * by their own certificate. Inactive tokens get `{active: false}` and nothing else.
 */
export async function handleIntrospection(req: IncomingMessage, res: ServerResponse, options: ResolvedStsOptions): Promise<void> {
  const now = options.now();
  let certificate: PeerCertificate | undefined;
  let response: Record<string, unknown>;
  try {
    const { client, parameters } = await authenticateRequest(req, options, now, (seen) => (certificate = seen));
    if (!client.introspection) {
      throw new CertboundError('CB_INTROSPECTION_NOT_ALLOWED', { description: `client ${client.clientId} may not introspect tokens` });
    }
    const token = parameters.required('token');
    parameters.optional('token_type_hint');
    response = await introspectAccessToken(token, {
      keys: options.publishedKeySet(Math.floor(now / 1000)),
      issuer: options.issuer,
      now,
      ...(client.audiences.length === 0 ? {} : { audiences: client.audiences }),
    });
  } catch (error) {
    throw reportRefusal('introspection.refused', error, certificate, options.onEvent);
  }
  sendJson(res, 200, response, { 'cache-control': 'no-store', pragma: 'no-cache' });
}
