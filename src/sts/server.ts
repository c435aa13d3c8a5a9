import type { IncomingMessage, ServerResponse } from 'node:http';
import { toCertboundError } from '../core/errors.js';
import { createLimitedHttpsServer, type ManagedServer } from '../server/https-server.js';
import { requestIdOf } from '../server/request-id.js';
import type { StsEvent } from './events.js';
import { resolveStsOptions, type StsOptions } from './options.js';
import { route, sendStsError } from './router.js';

export type { StsOptions } from './options.js';
export { STS_DEFAULTS } from './options.js';
export type { StsEvent } from './events.js';

/**
 * The STS request handler, for mounting on any node:https server whose TLS layer requests a
 * client certificate (`requestCert: true`). Public endpoints answer without one; the token
 * endpoint requires a CA-verified, registered client certificate.
 * @throws ConfigError naming a bad option.
 */
export function createStsHandler(options: StsOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const resolved = resolveStsOptions(options);
  return (req, res) => {
    const requestId = requestIdOf(req);
    // A request with an id reports it with each of its events (the options are a shallow copy).
    const scoped =
      requestId === undefined ? resolved : { ...resolved, onEvent: (event: StsEvent) => resolved.onEvent({ ...event, requestId }) };
    route(req, res, scoped).catch((error: unknown) => sendStsError(res, toCertboundError(error), scoped));
  };
}

/** An HTTPS STS with certbound's TLS settings and server limits. */
export function createStsServer(options: StsOptions): ManagedServer {
  const handler = createStsHandler(options);
  return createLimitedHttpsServer(options.tls, options.limits ?? {}, handler);
}
