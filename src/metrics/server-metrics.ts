import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import { METRIC_FAMILIES, type MetricFamily, type MetricName, type ServerName } from './families.js';

/** The metrics of one server process, in a registry of its own (not prom-client's global one). */
export interface ServerMetrics {
  registry: Registry;
  counter(name: MetricName): Counter;
  gauge(name: MetricName): Gauge;
  histogram(name: MetricName): Histogram;
}

/**
 * A registry with the families of METRIC_FAMILIES that this server reports in this role, and (for a server) Node's process
 * metrics (CPU, memory, event loop lag, handles) under their usual names. A `collect` callback
 * fills a gauge on each scrape.
 */
export function createServerMetrics(
  server: ServerName,
  role: 'server' | 'primary' = 'server',
  collect: Partial<Record<MetricName, (gauge: Gauge) => void>> = {},
): ServerMetrics {
  const registry = new Registry();
  // The primary's own families join its workers' aggregated ones: it has no process metrics of its own, so names never repeat.
  if (role === 'server') collectDefaultMetrics({ register: registry });
  const metrics = new Map<string, Metric>();
  for (const family of METRIC_FAMILIES as readonly MetricFamily[]) {
    if ((family.primaryOnly === true) !== (role === 'primary') || !family.servers.includes(server)) continue;
    metrics.set(family.name, create(family, registry, collect[family.name as MetricName]));
  }
  // A family the server does not report is a metric nobody scrapes: counting into it is harmless.
  const unused = new Map<string, Metric>();
  const get = <T>(name: MetricName): T => {
    const known = metrics.get(name);
    if (known !== undefined) return known as T;
    const family = METRIC_FAMILIES.find((candidate) => candidate.name === name) as MetricFamily;
    if (!unused.has(name)) unused.set(name, create(family, new Registry(), undefined));
    return unused.get(name) as T;
  };
  return {
    registry,
    counter: (name) => get<Counter>(name),
    gauge: (name) => get<Gauge>(name),
    histogram: (name) => get<Histogram>(name),
  };
}

function create(family: MetricFamily, registry: Registry, collect: ((gauge: Gauge) => void) | undefined): Metric {
  const common = {
    name: family.name,
    help: family.help,
    labelNames: [...family.labels],
    registers: [registry],
    ...(family.aggregator === undefined ? {} : { aggregator: family.aggregator }),
  };
  switch (family.kind) {
    case 'counter':
      return new Counter(common);
    case 'histogram':
      return new Histogram({ ...common, buckets: [...(family.buckets ?? [])] });
    case 'gauge':
      return new Gauge({
        ...common,
        ...(collect === undefined
          ? {}
          : {
              collect(this: Gauge) {
                collect(this);
              },
            }),
      });
  }
}
