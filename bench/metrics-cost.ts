// What the metrics cost a request, in CPU time, against the cryptography that request does anyway
// (one ES256 signature for a token, one ES256 verification for a resource request), all measured
// here in one process and one run. Each metrics path is the one the servers take with
// --admin-port: the event counted (observeEvents), the request's in-flight gauge and duration
// histogram (instrumentHttpServer's work), and for a resource request the verification timer and
// the cache lookup counter. Without --admin-port none of this runs.
//
//   node dist/bench/metrics-cost.js [N]     (default 200000; prints one markdown table)
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { observeEvents } from '../src/metrics/observe-events.js';
import { createServerMetrics } from '../src/metrics/server-metrics.js';
import { cacheLookups, timedVerifier } from '../src/metrics/instrument.js';
import type { BoundTokenVerifier, VerifiedToken } from '../src/core/verify.js';

const metrics = createServerMetrics('resource');
const stsMetrics = createServerMetrics('sts');
const observeSts = observeEvents(stsMetrics);
const observeResource = observeEvents(metrics);
const inFlight = stsMetrics.gauge('certbound_in_flight_requests');
const duration = stsMetrics.histogram('certbound_http_request_seconds');
const verified = { subject: 'alice' } as unknown as VerifiedToken;
const bare: BoundTokenVerifier = { verify: async () => verified };
const timed = timedVerifier(bare, metrics);
const lookup = cacheLookups(metrics);

/** What instrumentHttpServer does for one request. */
function requestMetrics(status: string): void {
  inFlight.inc();
  const end = duration.startTimer();
  inFlight.dec();
  end({ status });
}

const paths: Record<string, () => unknown> = {
  'STS token request: token.issued counted, in-flight, duration': () => {
    observeSts({
      type: 'token.issued',
      clientId: 'alice',
      subject: 'alice',
      jti: '0d3c1e9a-6a1b-4bd2-9f3e-000000000001',
      thumbprint: 'Gbl06y6VqMyQX2V0bQ6fU7-JDz3nqP0hZ-6CV0a6T9A',
      grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
    });
    requestMetrics('200');
  },
  'resource request: verification timed, cache lookup, request.allowed, in-flight, duration': async () => {
    await timed.verify('token', 'thumbprint');
    lookup(true);
    observeResource({ type: 'request.allowed', subject: 'alice', clientId: 'alice', thumbprint: 'x' });
    requestMetrics('200');
  },
  'resource request without metrics: the bare verifier': async () => {
    await bare.verify('token', 'thumbprint');
  },
};

async function microsPerCall(run: () => unknown, count: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) await run();
  return ((performance.now() - start) * 1000) / count;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 200_000);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const payload = Buffer.from('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9');
  const signature = sign('sha256', payload, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const crypto: Record<string, () => unknown> = {
    'one ES256 signature (node:crypto)': () => sign('sha256', payload, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
    'one ES256 verification (node:crypto)': () => verify('sha256', payload, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature),
  };
  const all = { ...paths, ...crypto };
  const best = new Map<string, number>();
  // Three rounds, interleaved, the fastest kept: background load only adds.
  for (let round = 0; round < 3; round++) {
    for (const [name, run] of Object.entries(all)) {
      const cryptoCount = name in crypto ? Math.max(1000, Math.floor(count / 50)) : count;
      const micros = await microsPerCall(run, cryptoCount);
      best.set(name, Math.min(best.get(name) ?? Number.POSITIVE_INFINITY, micros));
    }
  }
  const get = (name: string): number => best.get(name) as number;
  const bareVerify = get('resource request without metrics: the bare verifier');
  const stsCost = get('STS token request: token.issued counted, in-flight, duration');
  const resourceCost = get('resource request: verification timed, cache lookup, request.allowed, in-flight, duration') - bareVerify;
  const signCost = get('one ES256 signature (node:crypto)');
  const verifyCost = get('one ES256 verification (node:crypto)');
  process.stdout.write(`metrics cost: ${count} requests per path, best of 3 rounds; node ${process.version}\n\n`);
  process.stdout.write('| path | µs per request | ratio |\n| --- | ---: | ---: |\n');
  process.stdout.write(
    `| STS token request: event counted, in-flight, duration | ${stsCost.toFixed(2)} | ${((stsCost / signCost) * 100).toFixed(1)}% of one ES256 signature (${signCost.toFixed(1)} µs) |\n`,
  );
  process.stdout.write(
    `| resource request: verification timed, cache lookup, event counted, in-flight, duration | ${resourceCost.toFixed(2)} | ${((resourceCost / verifyCost) * 100).toFixed(1)}% of one ES256 verification (${verifyCost.toFixed(1)} µs) |\n`,
  );
}

await main();
