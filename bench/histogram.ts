// Latency histograms with 1% wide logarithmic buckets: small enough to send over IPC and to
// merge across the slices of a phase, precise enough for p50/p99 (a percentile is reported as
// its bucket's upper bound, at most 1% above the true value).

const BASE_MS = 0.005;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);

/** Bucket index → count; sparse. */
export type Histogram = Record<string, number>;

export function bucketOf(ms: number): number {
  return ms <= BASE_MS ? 0 : Math.ceil(Math.log(ms / BASE_MS) / LOG_GROWTH);
}

export function upperBoundMs(bucket: number): number {
  return BASE_MS * GROWTH ** bucket;
}

export function record(histogram: Histogram, ms: number): void {
  const key = String(bucketOf(ms));
  histogram[key] = (histogram[key] ?? 0) + 1;
}

export function merge(into: Histogram, from: Histogram): Histogram {
  for (const [key, count] of Object.entries(from)) into[key] = (into[key] ?? 0) + count;
  return into;
}

export function countOf(histogram: Histogram): number {
  return Object.values(histogram).reduce((sum, count) => sum + count, 0);
}

/** The value below which `fraction` of the samples fall (nearest rank), or 0 when empty. */
export function percentile(histogram: Histogram, fraction: number): number {
  const total = countOf(histogram);
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil(fraction * total));
  let seen = 0;
  for (const bucket of Object.keys(histogram)
    .map(Number)
    .sort((a, b) => a - b)) {
    seen += histogram[String(bucket)] ?? 0;
    if (seen >= rank) return upperBoundMs(bucket);
  }
  return 0;
}
