import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { BoundTokenVerifier } from '../core/verify.js';
import { LOAD_SHED_EVENT } from '../server/https-server.js';
import type { ServerMetrics } from './server-metrics.js';

/**
 * Count what an HTTP(S) server sees below the application: TLS handshakes and their failures,
 * requests in flight and their duration, and requests shed at --max-in-flight.
 */
export function instrumentHttpServer(server: NetServer, metrics: ServerMetrics): void {
  const handshakes = metrics.counter('certbound_tls_handshakes_total');
  const failures = metrics.counter('certbound_tls_handshake_failures_total');
  const inFlight = metrics.gauge('certbound_in_flight_requests');
  const duration = metrics.histogram('certbound_http_request_seconds');
  const shed = metrics.counter('certbound_load_shed_total');
  server.on('secureConnection', () => handshakes.inc());
  server.on('tlsClientError', (error: NodeJS.ErrnoException) => failures.inc({ reason: reasonOf(error) }));
  server.on(LOAD_SHED_EVENT, () => shed.inc());
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    inFlight.inc();
    const end = duration.startTimer();
    res.once('close', () => {
      inFlight.dec();
      end({ status: String(res.statusCode) });
    });
  });
}

/** Node's and OpenSSL's codes are a closed set; a message (which may quote a peer) never becomes a label. */
function reasonOf(error: NodeJS.ErrnoException): string {
  const code = error.code;
  return typeof code === 'string' && /^(ERR_[A-Z0-9_]{1,80}|E[A-Z]{2,20})$/.test(code) ? code : 'other';
}

/** The verifier, timed: each verification observed as valid or invalid. */
export function timedVerifier(verifier: BoundTokenVerifier, metrics: ServerMetrics): BoundTokenVerifier {
  const seconds = metrics.histogram('certbound_token_verification_seconds');
  return {
    ...verifier,
    async verify(token, thumbprint) {
      const end = seconds.startTimer();
      try {
        const verified = await verifier.verify(token, thumbprint);
        end({ outcome: 'valid' });
        return verified;
      } catch (error) {
        end({ outcome: 'invalid' });
        throw error;
      }
    },
  };
}

/** The verification cache's `onLookup` callback, counting hits and misses. */
export function cacheLookups(metrics: ServerMetrics): (hit: boolean) => void {
  const lookups = metrics.counter('certbound_verification_cache_total');
  return (hit) => lookups.inc({ result: hit ? 'hit' : 'miss' });
}
