// The bench report: one table (markdown, so it can be pasted into docs/benchmarks.md as is) and
// the same figures as JSON.
import type { CeilingResult } from './ceiling.js';
import type { PhaseResult } from './protocol.js';

/** Every row of the table, in order. A run measures all of them (or says why not, `na`). */
export const ROW_IDS = [
  'ceiling.sign',
  'ceiling.verify',
  'ceiling.jose-sign',
  'ceiling.jose-verify',
  'sts.keepalive',
  'sts.silent',
  'sts.newconn',
  'sts.resume',
  'sts.cc',
  'sts.workers',
  'reference',
  'peer',
  'bare.newconn',
  'bare.resume',
  'resource.off',
  'resource.verify',
  'resource.cache',
  'grpc.plain',
  'grpc.intercepted',
] as const;

/** Every target, by id. */
export const TARGET_IDS = [
  'sts-vs-reference',
  'sts-vs-peer',
  'workers',
  'newconn-vs-bare',
  'resume-vs-bare',
  'resource-overhead-cache',
  'resource-overhead-nocache',
  'grpc-overhead',
  'logging-cost',
] as const;

export interface Meta {
  node: string;
  platform: string;
  cpuModel: string;
  /** Logical cores of the machine; the servers and the load generator shared all of them. */
  cores: number;
  date: string;
  command: string;
  quick: boolean;
  /** Measured window, warm-up and request budget of each load phase. */
  phase: { warmupMs: number; durationMs: number; maxRequests: number; concurrency: number; rounds: number };
  /** `--workers N` of the multi-worker STS row, and whether the CLI had the flag. */
  workers: { requested: number; supported: boolean };
  totalSeconds?: number;
  /** Where the run kept its PKI and server logs (removed at the end unless --keep). */
  workDir: string;
  /** CPU other processes used just before the run, in cores (see also each row's other cores). */
  otherLoadBeforeCores?: number;
}

export interface Row {
  id: string;
  scenario: string;
  /** Concurrent connections (HTTP) or concurrent calls (gRPC); undefined for the ceiling. */
  concurrency: number | undefined;
  /** Operations or successful requests per second. */
  rps: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  errors: number;
  requests: number;
  /** CPU used in the measured window, in cores (1.0 = one core busy the whole time). */
  serverCores: number | undefined;
  loadgenCores: number | undefined;
  /** CPU used by everything else on the machine in the window (the runner, other processes). */
  otherCores?: number | undefined;
  /** TLS connections opened in the window and how many resumed a session (new-connection modes). */
  connections?: number;
  resumedConnections?: number;
  errorSamples?: string[];
  /** Requests per second of each slice (rounds interleaved with the rows it is compared with). */
  slices?: number[];
  /** The ratio column as printed, e.g. "17.1% of sign ceiling". */
  ratio?: string;
  /** The same as numbers (fractions), e.g. { signCeiling: 0.171 }. */
  ratios?: Record<string, number>;
  /** The row was not measured, and why. */
  na?: string;
}

export interface Target {
  id: string;
  /** The row the target is shown on. */
  row: string;
  description: string;
  value: number | undefined;
  op: '>=' | '<=';
  threshold: number;
  /** How value and threshold are printed: a ratio (0.91×) or a percentage (12.0%). */
  unit: 'x' | '%';
  met: boolean | undefined;
}

export interface Report {
  meta: Meta;
  ceiling: CeilingResult;
  rows: Row[];
  targets: Target[];
}

/** `serverCores` and `machineCores`: CPU in cores over the runner's view of the measured window. */
export function rowFromPhase(
  id: string,
  scenario: string,
  concurrency: number,
  result: PhaseResult,
  serverCores: number | undefined,
  machineCores: number | undefined,
): Row {
  const seconds = result.elapsedMs / 1000;
  const loadgenCores = seconds === 0 ? undefined : result.loadgenCpuSeconds / seconds;
  return {
    id,
    scenario,
    concurrency,
    rps: result.rps,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    errors: result.errors,
    requests: result.requests,
    serverCores,
    loadgenCores,
    otherCores:
      machineCores === undefined || serverCores === undefined || loadgenCores === undefined
        ? undefined
        : Math.max(0, machineCores - serverCores - loadgenCores),
    ...(result.connections > 1 ? { connections: result.connections, resumedConnections: result.resumedConnections } : {}),
    ...(result.errorSamples.length > 0 ? { errorSamples: result.errorSamples } : {}),
  };
}

export function unmeasuredRow(id: string, scenario: string, concurrency: number | undefined, why: string): Row {
  return {
    id,
    scenario,
    concurrency,
    rps: 0,
    p50Ms: undefined,
    p99Ms: undefined,
    errors: 0,
    requests: 0,
    serverCores: undefined,
    loadgenCores: undefined,
    na: why,
  };
}

export function target(
  id: string,
  row: string,
  description: string,
  value: number | undefined,
  op: '>=' | '<=',
  threshold: number,
  unit: 'x' | '%',
): Target {
  const met = value === undefined || !Number.isFinite(value) ? undefined : op === '>=' ? value >= threshold : value <= threshold;
  return { id, row, description, value, op, threshold, unit, met };
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function rate(value: number): string {
  return value >= 100 ? integer.format(value) : value.toFixed(1);
}

function ms(value: number | undefined): string {
  if (value === undefined) return '–';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function cores(value: number | undefined): string {
  return value === undefined ? '–' : value.toFixed(2);
}

export function formatValue(value: number | undefined, unit: 'x' | '%'): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  return unit === 'x' ? `${value.toFixed(2)}×` : `${(value * 100).toFixed(1)}%`;
}

function targetCell(t: Target): string {
  const verdict = t.met === undefined ? 'n/a' : t.met ? 'met' : '**MISSED**';
  const op = t.op === '>=' ? '≥' : '≤';
  return `${t.description} ${formatValue(t.value, t.unit)} (target ${op} ${formatValue(t.threshold, t.unit)}): ${verdict}`;
}

/** The table, in markdown, with a heading that says what shared which cores. */
export function renderTable(report: Report): string {
  const { meta } = report;
  const lines: string[] = [];
  lines.push(
    `certbound bench: node ${meta.node}, ${meta.platform}, ${meta.cpuModel}; ${meta.cores} cores shared by the server under test and the load generator (separate processes, no pinning)`,
  );
  lines.push(
    `each row: ${meta.phase.warmupMs / 1000} s warm-up, then ${meta.phase.durationMs / 1000} s or ${integer.format(meta.phase.maxRequests)} requests, whichever ends first, in ${meta.phase.rounds} slices interleaved with the rows it is compared with; mutual TLS with alice's certificate on every connection${meta.quick ? '; QUICK RUN (figures are not meaningful)' : ''}`,
  );
  if (meta.otherLoadBeforeCores !== undefined)
    lines.push(
      `other processes used ${meta.otherLoadBeforeCores.toFixed(2)} cores just before the run; "other cores" below is the same during each phase`,
    );
  lines.push('');
  lines.push('| scenario | conc. | req/s | p50 ms | p99 ms | errors | server cores | loadgen cores | other cores | ratio | target |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |');
  for (const row of report.rows) {
    const targets = report.targets
      .filter((t) => t.row === row.id)
      .map(targetCell)
      .join('; ');
    const handshakes =
      row.connections === undefined
        ? ''
        : ` [${integer.format(row.connections)} handshakes, ${integer.format(row.resumedConnections ?? 0)} resumed]`;
    if (row.na !== undefined) {
      lines.push(`| ${row.scenario} | ${row.concurrency ?? '–'} | n/a (${row.na}) | – | – | – | – | – | – | – | ${targets} |`);
      continue;
    }
    lines.push(
      `| ${row.scenario}${handshakes} | ${row.concurrency ?? '–'} | ${rate(row.rps)} | ${ms(row.p50Ms)} | ${ms(row.p99Ms)} | ${row.errors} | ${cores(row.serverCores)} | ${cores(row.loadgenCores)} | ${cores(row.otherCores)} | ${row.ratio ?? ''} | ${targets} |`,
    );
  }
  const met = report.targets.filter((t) => t.met === true).length;
  const missed = report.targets.filter((t) => t.met === false);
  const unknown = report.targets.filter((t) => t.met === undefined);
  lines.push('');
  lines.push(
    `targets: ${met} met, ${missed.length} missed${missed.length > 0 ? ` (${missed.map((t) => t.id).join(', ')})` : ''}${unknown.length > 0 ? `, ${unknown.length} not measured (${unknown.map((t) => t.id).join(', ')})` : ''}`,
  );
  const failing = report.rows.filter((row) => row.errors > 0);
  for (const row of failing) lines.push(`errors in ${row.id}: ${row.errorSamples?.join(' | ') ?? ''}`);
  return lines.join('\n');
}
