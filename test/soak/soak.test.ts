// The short soak in the normal test run: ~15 s of mixed load (token exchanges, resource requests,
// gRPC calls) from four loops while every kind of fault is injected once or more (TLS reloads
// with new server certificates, a key rotation, two JWKS outages, a CRL revoking "mallory").
// The long version is `npm run soak` (180 s); see docs/soak.md.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReport, runSoak, SOAK_MEMORY_BOUNDS } from './soak.js';

test('soak: 15 s of mixed load under injected faults — no unexpected failure, bounded memory', { timeout: 120_000 }, async (t) => {
  const lines: string[] = [];
  // Bounded in both ways: 15 s, and at most 40 000 requests (2 cores served 6 500-13 000 in
  // 15 s in trials, so the duration decides and the whole fault cycle runs).
  const report = await runSoak({ durationMs: 15_000, maxRequests: 40_000, log: (line) => lines.push(line) });
  const table = formatReport(report);
  for (const line of table.split('\n')) t.diagnostic(line);

  assert.deepEqual(report.failures, [], `unexpected failures:\n${table}\n${lines.join('\n')}`);
  assert.equal(report.failureCount, 0);
  assert.equal(report.stoppedBy, 'duration', 'maxRequests must not cut the fault cycle short');
  for (const kind of ['token', 'resource', 'grpc'] as const) {
    assert.ok(report.requests[kind] > 0, `no ${kind} requests`);
    assert.ok(report.expectedRefusals[kind] > 0, `revoked mallory was never refused at ${kind}`);
  }
  assert.ok(report.reusedTokenCalls > 0, 'no call reused a token');

  // Every fault was injected (and, where it can be, proved: see soak.ts).
  assert.ok((report.faultCounts['tls-reload'] ?? 0) >= 3, JSON.stringify(report.faultCounts));
  assert.equal(report.faultCounts['key-rotation'], 1);
  assert.equal(report.faultCounts['jwks-outage'], 2);
  assert.equal(report.faultCounts['jwks-outage-end'], 2);
  assert.equal(report.faultCounts['crl-revocation'], 1);
  assert.ok(report.jwks.fetchesRefused > 0, 'the JWKS outages refused no fetch');
  assert.equal(Object.keys(report.tokensByKid).length, 2, `both keys must have signed tokens: ${JSON.stringify(report.tokensByKid)}`);

  // Memory. node:test does not pass --expose-gc; runSoak then sets the flag at run time and
  // takes gc from a fresh context (report.gcForced). Bounds (SOAK_MEMORY_BOUNDS): heapUsed may grow
  // by < 64 MB and RSS by < 320 MB between the start (after warm-up) and the end of the loaded
  // phase. Both are generous on purpose — even without a forced GC, the young generation moves
  // heapUsed by tens of MB — while a leak of a few KB per request (about ten thousand requests in
  // 15 s) would blow through them. RSS rises 30-50 MB in the first seconds, then stays flat (see the
  // 180 s run in docs/soak.md).
  const heapGrowth = report.heapEndMb - report.heapStartMb;
  const rssGrowth = report.rssEndMb - report.rssStartMb;
  assert.ok(heapGrowth < SOAK_MEMORY_BOUNDS.heapGrowthMb, `heapUsed grew ${heapGrowth.toFixed(1)} MB`);
  assert.ok(rssGrowth < SOAK_MEMORY_BOUNDS.rssGrowthMb, `RSS grew ${rssGrowth.toFixed(1)} MB`);
  assert.equal(report.memoryWithinBounds, true);
});
