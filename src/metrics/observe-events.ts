import type { ServerMetrics } from './server-metrics.js';

/**
 * The metrics that server events imply: the same events the log gets, counted. Only known event
 * names count, and label values are checked against their closed sets, so an odd event can never
 * add a time series.
 */
export function observeEvents(metrics: ServerMetrics): (event: object) => void {
  const issued = metrics.counter('certbound_tokens_issued_total');
  const refusals = metrics.counter('certbound_refusals_total');
  const allowed = metrics.counter('certbound_allowed_total');
  const internal = metrics.counter('certbound_internal_errors_total');
  const jwksFetches = metrics.counter('certbound_jwks_fetches_total');
  const jwksExpired = metrics.counter('certbound_jwks_expired_total');
  const reloads = metrics.counter('certbound_reloads_total');
  const restarts = metrics.counter('certbound_worker_restarts_total');
  return (event) => {
    const { type } = event as { type?: unknown };
    if (typeof type !== 'string') return;
    if (type === 'token.issued') {
      const { grantType, clientId } = event as { grantType?: unknown; clientId?: unknown };
      issued.inc({ grant_type: bounded(grantType, /^[\w:.-]{1,100}$/), client_id: bounded(clientId, /^[\x21-\x7e]{1,200}$/) });
    } else if (REFUSALS.has(type)) {
      refusals.inc({ event: type, code: bounded(codeOf(event), /^CB_[A-Z0-9_]{1,60}$/) });
    } else if (ALLOWED.has(type)) {
      allowed.inc({ event: type });
    } else if (type === 'server.error' || type === 'request.failed') {
      internal.inc({ event: type });
    } else if (type === 'jwks.refreshed' || type === 'jwks.recovered') {
      jwksFetches.inc({ outcome: 'ok' });
    } else if (type === 'jwks.fetch_failed') {
      jwksFetches.inc({ outcome: 'failed' });
    } else if (type === 'jwks.expired') {
      jwksExpired.inc();
    } else if (type === 'worker.restarted') {
      restarts.inc();
    } else {
      const reload = /^(tls|jwks|keystore)\.(reloaded|reload_failed)$/.exec(type);
      if (reload !== null) reloads.inc({ what: reload[1] as string, outcome: reload[2] === 'reloaded' ? 'ok' : 'failed' });
    }
  };
}

const REFUSALS = new Set(['token.refused', 'introspection.refused', 'request.refused', 'call.refused', 'authz.refused']);
const ALLOWED = new Set(['request.allowed', 'call.allowed', 'authz.allowed']);

/** The refusal's code, whether the event carries it or the CertboundError it wraps. */
function codeOf(event: object): unknown {
  const { code, error } = event as { code?: unknown; error?: { code?: unknown } };
  return code ?? error?.code;
}

function bounded(value: unknown, shape: RegExp): string {
  return typeof value === 'string' && shape.test(value) ? value : 'other';
}
