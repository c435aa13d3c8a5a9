// The admin listener and the metrics below the application, in-process over real sockets: the
// readiness states, load shedding and in-flight requests counted, and nothing but the three paths.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { before, test } from 'node:test';
import { Agent, request } from 'undici';
import { startOperations } from '../../src/cli/operations.js';
import { instrumentHttpServer } from '../../src/metrics/instrument.js';
import { createLimitedHttpsServer } from '../../src/server/https-server.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { adminUrlOf, getAdmin, valueOf } from '../helpers/prometheus.js';

let pki: TestPki;
before(async () => {
  pki = await createTestPki();
});

async function operationsWithAdmin(t: { after(fn: () => unknown): void }) {
  const lines: string[] = [];
  const operations = await startOperations('resource', (event) => lines.push(JSON.stringify(event)), { adminPort: 0 });
  t.after(() => operations.close());
  const admin = adminUrlOf(lines.join('\n'));
  assert.ok(admin !== undefined, `no admin.listening event in ${lines.join('\n')}`);
  return { operations, admin, lines };
}

test('/readyz: not before listening, then each ready check, and never again once draining; /healthz throughout', async (t) => {
  const { operations, admin } = await operationsWithAdmin(t);
  assert.deepEqual(await getAdmin(admin, '/readyz'), {
    status: 503,
    text: 'not ready: not listening yet\n',
    contentType: 'text/plain; charset=utf-8',
  });
  operations.listening();
  assert.equal((await getAdmin(admin, '/readyz')).status, 200);
  let keysLoaded = false;
  operations.addReadyCheck(() => (keysLoaded ? undefined : 'no signing key is active'));
  assert.deepEqual(await getAdmin(admin, '/readyz').then((r) => [r.status, r.text]), [503, 'not ready: no signing key is active\n']);
  keysLoaded = true;
  assert.equal((await getAdmin(admin, '/readyz')).status, 200);
  operations.draining();
  assert.deepEqual(await getAdmin(admin, '/readyz').then((r) => [r.status, r.text]), [503, 'not ready: draining\n']);
  assert.deepEqual(await getAdmin(admin, '/healthz').then((r) => [r.status, r.text]), [200, 'ok\n']);
});

test('the admin listener serves GET and HEAD of /metrics, /healthz and /readyz only', async (t) => {
  const { admin } = await operationsWithAdmin(t);
  const metrics = await getAdmin(admin, '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(metrics.text, /^# TYPE process_cpu_seconds_total counter$/m);
  assert.equal((await getAdmin(admin, '/')).status, 404);
  assert.equal((await getAdmin(admin, '/metrics/../secret')).status, 404);
  const post = await request(`${admin}/metrics`, { method: 'POST', body: 'x' });
  assert.equal(post.statusCode, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
  await post.body.dump();
  const head = await request(`${admin}/healthz`, { method: 'HEAD' });
  assert.equal(head.statusCode, 200);
  assert.equal(await head.body.text(), '');
});

test('requests in flight, their duration by status, and requests shed at maxInFlight are counted', async (t) => {
  const { operations, admin } = await operationsWithAdmin(t);
  const held: ServerResponse[] = [];
  const arrived = new EventEmitter();
  const managed = createLimitedHttpsServer(
    { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    { maxInFlight: 1 },
    (_req, res) => {
      held.push(res);
      arrived.emit('request');
    },
  );
  instrumentHttpServer(managed.server, operations.metrics);
  const url = await managed.listen();
  t.after(() => managed.close());
  const agent = new Agent({ connect: { ca: pki.ca.certPem, servername: 'localhost' }, connections: 4 });
  t.after(() => agent.close());

  const arrival = once(arrived, 'request');
  const first = request(`${url.origin}/`, { dispatcher: agent });
  await arrival;
  let scrape = (await getAdmin(admin, '/metrics')).text;
  assert.equal(valueOf(scrape, 'certbound_in_flight_requests'), 1);
  const shed = await request(`${url.origin}/`, { dispatcher: agent });
  assert.equal(shed.statusCode, 503);
  await shed.body.dump();
  (held[0] as ServerResponse).end('done');
  const answered = await first;
  assert.equal(answered.statusCode, 200);
  await answered.body.dump();

  scrape = (await getAdmin(admin, '/metrics')).text;
  assert.equal(valueOf(scrape, 'certbound_load_shed_total'), 1);
  assert.equal(valueOf(scrape, 'certbound_in_flight_requests'), 0);
  assert.equal(valueOf(scrape, 'certbound_http_request_seconds_count', { status: '200' }), 1);
  assert.equal(valueOf(scrape, 'certbound_http_request_seconds_count', { status: '503' }), 1);
  assert.ok((valueOf(scrape, 'certbound_tls_handshakes_total') ?? 0) >= 1);
});
