// The events the servers log, counted: each known event moves its metric, label values outside
// their closed sets become `other`, and unknown events add no series.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { observeEvents } from '../../src/metrics/observe-events.js';
import { createServerMetrics } from '../../src/metrics/server-metrics.js';
import { samplesOf, valueOf } from '../helpers/prometheus.js';

test('every event a server reports moves its counter, with bounded labels', async () => {
  const metrics = createServerMetrics('resource');
  const observe = observeEvents(metrics);
  observe({ type: 'request.allowed', subject: 'alice' });
  observe({ type: 'request.refused', code: 'CB_CNF_MISMATCH' });
  observe({ type: 'call.refused', error: { code: 'CB_TOKEN_EXPIRED' } });
  observe({ type: 'authz.refused', code: 'not a code\nwith="quotes"' });
  observe({ type: 'request.failed', detail: 'boom' });
  observe({ type: 'jwks.refreshed', keys: 2 });
  observe({ type: 'jwks.recovered', keys: 2 });
  observe({ type: 'jwks.fetch_failed', detail: 'ECONNREFUSED' });
  observe({ type: 'jwks.expired', keysAgeSeconds: 3601 });
  observe({ type: 'tls.reloaded' });
  observe({ type: 'jwks.reload_failed', detail: 'bad file' });
  observe({ type: 'keystore.reloaded' });
  observe({ type: 'something.new', code: 'CB_X' });
  observe({ noType: true });
  const text = await metrics.registry.metrics();
  assert.equal(valueOf(text, 'certbound_allowed_total', { event: 'request.allowed' }), 1);
  assert.equal(valueOf(text, 'certbound_refusals_total', { event: 'request.refused', code: 'CB_CNF_MISMATCH' }), 1);
  assert.equal(valueOf(text, 'certbound_refusals_total', { event: 'call.refused', code: 'CB_TOKEN_EXPIRED' }), 1);
  assert.equal(valueOf(text, 'certbound_refusals_total', { event: 'authz.refused', code: 'other' }), 1);
  assert.equal(valueOf(text, 'certbound_internal_errors_total', { event: 'request.failed' }), 1);
  assert.equal(valueOf(text, 'certbound_jwks_fetches_total', { outcome: 'ok' }), 2);
  assert.equal(valueOf(text, 'certbound_jwks_fetches_total', { outcome: 'failed' }), 1);
  assert.equal(valueOf(text, 'certbound_jwks_expired_total'), 1);
  assert.equal(valueOf(text, 'certbound_reloads_total', { what: 'tls', outcome: 'ok' }), 1);
  assert.equal(valueOf(text, 'certbound_reloads_total', { what: 'jwks', outcome: 'failed' }), 1);
  assert.equal(valueOf(text, 'certbound_reloads_total', { what: 'keystore', outcome: 'ok' }), 1);
  const certbound = samplesOf(text).filter((sample) => sample.name.startsWith('certbound_') && sample.value !== 0);
  assert.equal(certbound.length, 11, JSON.stringify(certbound));
});

test('the STS counts tokens by grant type and client; odd values are other; the primary counts restarts only', async () => {
  const metrics = createServerMetrics('sts');
  const observe = observeEvents(metrics);
  observe({ type: 'token.issued', grantType: 'client_credentials', clientId: 'alice' });
  observe({ type: 'token.issued', grantType: 'client_credentials', clientId: 'a b' });
  observe({ type: 'token.refused', code: 'CB_RATE_LIMITED' });
  observe({ type: 'server.error', detail: 'x' });
  const text = await metrics.registry.metrics();
  assert.equal(valueOf(text, 'certbound_tokens_issued_total', { grant_type: 'client_credentials', client_id: 'alice' }), 1);
  assert.equal(valueOf(text, 'certbound_tokens_issued_total', { grant_type: 'client_credentials', client_id: 'other' }), 1);
  assert.equal(valueOf(text, 'certbound_refusals_total', { event: 'token.refused', code: 'CB_RATE_LIMITED' }), 1);
  assert.equal(valueOf(text, 'certbound_internal_errors_total', { event: 'server.error' }), 1);
  assert.doesNotMatch(text, /certbound_jwks|certbound_worker_restarts/);

  const primary = createServerMetrics('sts', 'primary');
  observeEvents(primary)({ type: 'worker.restarted', pid: 1 });
  const primaryText = await primary.registry.metrics();
  assert.equal(valueOf(primaryText, 'certbound_worker_restarts_total'), 1);
  assert.deepEqual(
    [...new Set(samplesOf(primaryText).map((sample) => sample.name))],
    ['certbound_worker_restarts_total'],
    'the primary adds no family its workers report',
  );
});
