// `npm run bench`: certbound's throughput and latency against its ceilings, a hand-rolled
// reference, bare TLS and a peer (oidc-provider), all measured in one run on this machine.
//
//   node dist/bench/run.js [--quick] [--out FILE] [--workers N] [--duration S] [--warmup S]
//                          [--max-requests N] [--concurrency N] [--rounds N] [--only ID,...]
//                          [--keep] [--wait-quiet S] [--cpu-prof DIR] [--check]
//
// Every server runs in its own process (certbound's through its real CLI: `sts --workers 1`,
// `sts --workers N`, `resource`), and so does the load generator (bench/loadgen.ts); they share
// the machine's cores, which the table says, with the CPU each used. All servers are started
// first, then the ES256 ceiling is measured, then the rows, in four groups of rows that are
// compared with each other (token endpoints over keep-alive; a new connection per request;
// the resource server; gRPC). Within a group the rows run interleaved, in --rounds slices each
// (default 3), so that background load on a shared machine hits them alike. Each row is bounded
// by time (--duration, default 7 s after a 1.5 s warm-up) and by a request count. The default
// run takes about two and a half minutes; --quick (or CERTBOUND_BENCH_QUICK=1) is a tiny run for
// the harness test. Servers listen on 127.0.0.1 only and every child process is killed at the
// end, on failure and on SIGINT/SIGTERM.
//
// Prints one table and writes the same figures as JSON to --out (default bench-results.json in
// the current directory), each target with its verdict. Missed targets are shown in the table,
// not turned into a failure, unless --check: then the exit status is 3 when a measured target is
// missed (for use by hand: shared CI machines are too noisy for it). It is 1 when the harness
// itself failed.
//
// --only ID,...       measure only these rows (prefixes: `sts`, `resource`, ...)
// --wait-quiet S      first wait up to S seconds for other processes to leave the machine idle
// --cpu-prof DIR      run the one-worker STS, the reference, the resource server without cache
//                     and the gRPC server with the interceptor under `node --cpu-prof`; each writes
//                     DIR/<name>.cpuprofile when it stops, and `node dist/bench/profile-summary.js
//                     FILE 20 --skip-ms MS` (the runner prints MS) lists its hot spots
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { Agent, request } from 'undici';
import { computeThumbprint } from '../src/core/thumbprint.js';
import { DEV_AUDIENCE, DEV_GRPC_AUDIENCE, DEV_ISSUER, DEV_SUBJECT_TOKENS } from '../src/pki/dev-pki.js';
import type { CeilingResult } from './ceiling.js';
import { merge, percentile, type Histogram } from './histogram.js';
import { performance } from 'node:perf_hooks';
import {
  cpuSecondsOfTree,
  forkModule,
  machineBusySeconds,
  installCleanup,
  killAllChildren,
  onFinalCleanup,
  readLog,
  startServer,
  StartFailure,
  type ServerProcess,
} from './procs.js';
import type { ClientTls, ConnectionMode, LoadgenReply, LoadgenRequest, Phase, PhaseLimits, PhaseResult } from './protocol.js';
import {
  formatValue,
  renderTable,
  ROW_IDS,
  rowFromPhase,
  target,
  unmeasuredRow,
  type Meta,
  type Report,
  type Row,
  type Target,
} from './report.js';
import type { ServerKind } from './serve.js';

const execFileAsync = promisify(execFile);
const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));
const CLI = here('../src/cli/main.js');
const SERVE = here('./serve.js');
const LOADGEN = here('./loadgen.js');
const CEILING = here('./ceiling.js');

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface Options {
  quick: boolean;
  out: string;
  workers: number;
  /** Per row: warm-up, measured time and request budget, all rounds together; concurrency. */
  limits: PhaseLimits;
  /** Rows that are compared run interleaved, in this many rounds (slices) each. */
  rounds: number;
  /** Warm-up of every slice after a row's first. */
  rewarmMs: number;
  ceilingMs: number;
  only: string[] | undefined;
  keep: boolean;
  /** Exit 3 when a measured target is missed. */
  check: boolean;
  /** Wait up to this long for other processes to leave the machine quiet before starting. */
  waitQuietMs: number;
  /** Profile the one-worker STS, the reference, the uncached resource server and the intercepted gRPC server (node --cpu-prof) into this directory. */
  cpuProfileDir: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      out: { type: 'string' },
      workers: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'max-requests': { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      keep: { type: 'boolean' },
      check: { type: 'boolean' },
      'wait-quiet': { type: 'string' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(
      'usage: node dist/bench/run.js [--quick] [--out FILE] [--workers N] [--duration S] [--warmup S] [--max-requests N] [--concurrency N] [--rounds N] [--only ID,...] [--keep] [--wait-quiet S] [--cpu-prof DIR] [--check]\n',
    );
    process.exit(0);
  }
  const quick = values.quick === true || process.env.CERTBOUND_BENCH_QUICK === '1';
  const number = (name: string, raw: string | undefined, fallback: number, min: number): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number >= ${min}`);
    return value;
  };
  return {
    quick,
    out: resolve(values.out ?? 'bench-results.json'),
    workers: Math.floor(number('workers', values.workers, 2, 2)),
    limits: {
      warmupMs: number('warmup', values.warmup, quick ? 0.1 : 1.5, 0) * 1000,
      durationMs: number('duration', values.duration, quick ? 0.3 : 7, 0.1) * 1000,
      maxRequests: Math.floor(number('max-requests', values['max-requests'], quick ? 200 : 250_000, 1)),
      concurrency: Math.floor(number('concurrency', values.concurrency, quick ? 4 : 16, 1)),
    },
    rounds: Math.floor(number('rounds', values.rounds, quick ? 2 : 3, 1)),
    rewarmMs: quick ? 50 : 300,
    ceilingMs: quick ? 100 : 1500,
    only: values.only?.split(',').map((id) => id.trim()),
    keep: values.keep === true,
    check: values.check === true,
    waitQuietMs: number('wait-quiet', values['wait-quiet'], 0, 0) * 1000,
    cpuProfileDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
  };
}

/** One row of a comparison group: what to load, on which server. */
interface Member {
  id: string;
  scenario: string;
  server: ServerProcess;
  phase: Phase;
}

/** One slice of a row's load, with CPU figures over the runner's view of its measured window. */
interface Slice {
  result: PhaseResult;
  windowSeconds: number;
  serverCpu: number | undefined;
  machineCpu: number | undefined;
}

/** A row from its slices: counts and times added up, latency histograms merged. */
function rowFromSlices(id: string, scenario: string, concurrency: number, slices: Slice[]): Row {
  const sum = (pick: (slice: Slice) => number | undefined): number | undefined =>
    slices.reduce<number | undefined>(
      (total, slice) => (total === undefined || pick(slice) === undefined ? undefined : total + (pick(slice) as number)),
      0,
    );
  const latencies: Histogram = {};
  for (const slice of slices) merge(latencies, slice.result.latencies);
  const requests = sum((slice) => slice.result.requests) ?? 0;
  const elapsedMs = sum((slice) => slice.result.elapsedMs) ?? 0;
  const merged: PhaseResult = {
    requests,
    errors: sum((slice) => slice.result.errors) ?? 0,
    errorSamples: [...new Set(slices.flatMap((slice) => slice.result.errorSamples))].slice(0, 5),
    elapsedMs,
    rps: elapsedMs > 0 ? (requests * 1000) / elapsedMs : 0,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: Math.max(0, ...slices.map((slice) => slice.result.maxMs)),
    latencies,
    connections: sum((slice) => slice.result.connections) ?? 0,
    resumedConnections: sum((slice) => slice.result.resumedConnections) ?? 0,
    loadgenCpuSeconds: sum((slice) => slice.result.loadgenCpuSeconds) ?? 0,
  };
  const window = sum((slice) => slice.windowSeconds) ?? 0;
  const perWindow = (value: number | undefined): number | undefined => (value === undefined || window <= 0 ? undefined : value / window);
  const row = rowFromPhase(
    id,
    scenario,
    concurrency,
    merged,
    perWindow(sum((slice) => slice.serverCpu)),
    perWindow(sum((slice) => slice.machineCpu)),
  );
  return { ...row, slices: slices.map((slice) => Math.round(slice.result.rps)) };
}

/** The load generator child: one phase at a time over IPC. */
class Loadgen {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(result: PhaseResult): void; reject(error: Error): void; onMeasuring(): void }>();
  private constructor(private readonly child: ReturnType<typeof forkModule>) {
    child.on('message', (message: LoadgenReply) => {
      if (message.type === 'ready') return;
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      if (message.type === 'measuring') {
        waiting.onMeasuring();
        return;
      }
      this.pending.delete(message.id);
      if (message.type === 'result') waiting.resolve(message.result);
      else waiting.reject(new Error(`load generator: ${message.error}`));
    });
    child.once('exit', (code) => {
      for (const waiting of this.pending.values()) waiting.reject(new Error(`load generator exited with code ${code}`));
      this.pending.clear();
    });
  }

  static start(): Promise<Loadgen> {
    const child = forkModule(LOADGEN);
    return new Promise((resolve, reject) => {
      child.once('message', (message: LoadgenReply) =>
        message.type === 'ready' ? resolve(new Loadgen(child)) : reject(new Error('load generator did not start')),
      );
      child.once('exit', (code) => reject(new Error(`load generator exited with code ${code} before it was ready`)));
    });
  }

  run(phase: Phase, onMeasuring: () => void = () => {}): Promise<PhaseResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onMeasuring });
      this.child.send({ type: 'phase', id, phase } satisfies LoadgenRequest);
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || !this.child.connected) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, 3_000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.send({ type: 'exit' } satisfies LoadgenRequest);
    });
  }
}

class Bench {
  readonly rows: Row[] = [];
  private readonly startedAt = Date.now();
  private loadgen!: Loadgen;
  private dir!: string;
  private readonly servers = new Set<ServerProcess>();
  private logCounter = 0;
  /** CLI commands that turned out not to have --workers (they then run without it). */
  readonly withoutWorkersFlag = new Set<string>();

  constructor(readonly options: Options) {}

  log(line: string): void {
    const seconds = ((Date.now() - this.startedAt) / 1000).toFixed(0).padStart(3);
    process.stderr.write(`[${seconds}s] ${line}\n`);
  }

  /** Whether --only asks for row `id` (`--only sts` means every sts.* row; a group asks for its rows). */
  wanted(id: string): boolean {
    return this.options.only === undefined || this.options.only.some((prefix) => id.startsWith(prefix) || prefix.startsWith(id));
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  tls(servername: string): ClientTls {
    return { caFile: this.file('ca.crt'), certFile: this.file('alice.crt'), keyFile: this.file('alice.key'), servername };
  }

  /** The run's temporary directory (the PKI is in its pki/). */
  get workDir(): string {
    return join(this.dir, '..');
  }

  async setUp(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'certbound-bench-'));
    const workDir = this.dir;
    // Interrupted or not, the PKI and logs go (child processes first: they hold files there).
    if (!this.options.keep) onFinalCleanup(() => rmSync(workDir, { recursive: true, force: true }));
    await execFileAsync(process.execPath, [CLI, 'pki', 'init', '--out', join(this.dir, 'pki')]);
    this.dir = join(this.dir, 'pki');
    // The dev policy lets alice use client_credentials too: the same grant as the peer's.
    this.clientCredentialsConfigured = /grant_types: \[[^\]]*client_credentials/.test(await readFile(this.file('sts.yaml'), 'utf8'));
    this.loadgen = await Loadgen.start();
  }

  clientCredentialsConfigured = false;

  async tearDown(): Promise<void> {
    await Promise.all([...this.servers].map((server) => server.stop()));
    await this.loadgen?.stop();
    killAllChildren();
    if (this.dir !== undefined && !this.options.keep) await rm(join(this.dir, '..'), { recursive: true, force: true });
    else if (this.dir !== undefined) this.log(`kept ${this.dir}`);
  }

  async start(name: string, args: string[]): Promise<ServerProcess> {
    const server = await startServer(name, args, this.file(`${String(++this.logCounter).padStart(2, '0')}-${name}.log`));
    this.servers.add(server);
    return server;
  }

  async stop(server: ServerProcess): Promise<void> {
    await server.stop();
    this.servers.delete(server);
  }

  /**
   * A certbound CLI server with `--workers N`. A CLI without that flag exits 2 with "unknown
   * option": then one worker means running without the flag, and more is not possible
   * (undefined). With the flag, one worker is asked for explicitly: the default is one per core.
   */
  async startCli(name: string, args: string[], workers: number): Promise<ServerProcess | undefined> {
    try {
      return await this.start(workers === 1 ? name : `${name}-${workers}w`, [...args, '--workers', String(workers)]);
    } catch (error) {
      if (!(error instanceof StartFailure && error.exitCode === 2 && /unknown option/i.test(error.stderr))) throw error;
      this.withoutWorkersFlag.add(name);
      if (workers > 1) {
        this.log(`${name} --workers is not supported by this CLI: ${error.stderr.trim()}`);
        return undefined;
      }
      return this.start(name, args);
    }
  }

  /** node flags that write `<name>.cpuprofile` to --cpu-prof DIR when the process stops. */
  profile(name: string): string[] {
    const dir = this.options.cpuProfileDir;
    return dir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${name}.cpuprofile`];
  }

  startSts(workers: number): Promise<ServerProcess | undefined> {
    const profile = workers === 1 ? this.profile('sts') : [];
    return this.startCli('sts', [...profile, CLI, 'sts', '--config', this.file('sts.yaml'), '--port', '0', '--rate-limit', '0'], workers);
  }

  /**
   * The one-worker STS with `--log-level silent`: what logging costs is the difference. A CLI
   * without the flag (exit 2) gives undefined, and the row says so.
   */
  async startSilentSts(): Promise<ServerProcess | undefined> {
    const args = [CLI, 'sts', '--config', this.file('sts.yaml'), '--port', '0', '--rate-limit', '0', '--log-level', 'silent'];
    try {
      return await this.start('sts-silent', [...args, '--workers', '1']);
    } catch (error) {
      if (!(error instanceof StartFailure && error.exitCode === 2)) throw error;
      this.log(`sts --log-level is not supported by this CLI: ${error.stderr.trim()}`);
      return undefined;
    }
  }

  startBench(kind: ServerKind): Promise<ServerProcess> {
    const profiled = kind === 'grpc-intercepted' || kind === 'reference';
    return this.start(kind, [...(profiled ? this.profile(kind) : []), SERVE, kind, this.dir]);
  }

  async startResource(cache: boolean): Promise<ServerProcess> {
    const args = [
      ...(cache ? [] : this.profile('resource-nocache')),
      CLI,
      'resource',
      '--port',
      '0',
      '--tls-ca',
      this.file('ca.crt'),
      '--tls-cert',
      this.file('server.crt'),
      '--tls-key',
      this.file('server.key'),
      '--jwks',
      this.file('jwks.json'),
      '--issuer',
      DEV_ISSUER,
      '--audience',
      DEV_AUDIENCE,
      '--token-cache',
      cache ? '10000' : '0',
    ];
    return (await this.startCli(cache ? 'resource-cache' : 'resource', args, 1)) as ServerProcess;
  }

  /** One slice: a load phase against `server`, with the server's and the machine's CPU over its measured window. */
  private async slice(server: ServerProcess, phase: Phase): Promise<Slice> {
    let start: { at: number; server: number | undefined; machine: number | undefined } | undefined;
    const result = await this.loadgen.run(phase, () => {
      start = { at: performance.now(), server: cpuSecondsOfTree(server.child.pid), machine: machineBusySeconds() };
    });
    const end = { at: performance.now(), server: cpuSecondsOfTree(server.child.pid), machine: machineBusySeconds() };
    const diff = (a: number | undefined, b: number | undefined): number | undefined =>
      a === undefined || b === undefined ? undefined : b - a;
    return {
      result,
      windowSeconds: start === undefined ? 0 : (end.at - start.at) / 1000,
      serverCpu: diff(start?.server, end.server),
      machineCpu: diff(start?.machine, end.machine),
    };
  }

  /**
   * Measure rows that are compared with each other: in `rounds` rounds, each row gets one slice
   * of its time and request budget, in an order that rotates every round, so that a change in
   * the machine's background load during the group affects every row alike. Each row's figures
   * are those of its slices together (latency histograms merged).
   */
  async measureGroup(name: string, members: Member[]): Promise<void> {
    if (members.length === 0) return;
    const { rounds, rewarmMs } = this.options;
    const slices = new Map<string, Slice[]>(members.map((member) => [member.id, []]));
    this.log(`${name}: ${members.map((member) => member.id).join(', ')} interleaved, ${rounds} rounds`);
    for (let round = 0; round < rounds; round++) {
      for (let index = 0; index < members.length; index++) {
        const member = members[(index + round) % members.length] as Member;
        const phase: Phase = {
          ...member.phase,
          warmupMs: round === 0 ? member.phase.warmupMs : Math.min(member.phase.warmupMs, rewarmMs),
          durationMs: member.phase.durationMs / rounds,
          maxRequests: Math.max(1, Math.ceil(member.phase.maxRequests / rounds)),
        };
        slices.get(member.id)?.push(await this.slice(member.server, phase));
      }
    }
    for (const member of members) {
      const row = rowFromSlices(member.id, member.scenario, member.phase.concurrency, slices.get(member.id) ?? []);
      this.rows.push(row);
      this.log(
        `${member.id}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50Ms?.toFixed(2)} ms, p99 ${row.p99Ms?.toFixed(2)} ms, ${row.errors} errors, other load ${row.otherCores?.toFixed(2) ?? '?'} cores`,
      );
      if (row.errors > 0)
        this.log(`${member.id} errors: ${row.errorSamples?.join(' | ')}\n  server log: ${readLog(member.server.logFile, 1500)}`);
    }
  }

  http(
    server: ServerProcess,
    mode: ConnectionMode,
    request: {
      method: 'GET' | 'POST';
      path: string;
      headers: Record<string, string>;
      body?: string;
      expectBody: string;
      servername: string;
    },
  ): Phase {
    return {
      kind: 'http',
      url: server.url.origin,
      method: request.method,
      path: request.path,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      mode,
      tls: this.tls(request.servername),
      expectBody: request.expectBody,
      ...this.options.limits,
    };
  }

  /** One request from the runner itself: a token, checked to be bound to alice's certificate. */
  async fetchToken(server: ServerProcess, body: string, expectedAudience: string): Promise<string> {
    const [ca, cert, key] = await Promise.all(['ca.crt', 'alice.crt', 'alice.key'].map((name) => readFile(this.file(name))));
    const agent = new Agent({ connect: { ca, cert, key, servername: 'sts.domain.com' } });
    try {
      const response = await request(new URL('/token', server.url), { method: 'POST', headers: FORM, body, dispatcher: agent });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`${server.name} refused the token request: ${response.statusCode} ${text}`);
      const token = (JSON.parse(text) as { access_token?: string }).access_token;
      if (typeof token !== 'string') throw new Error(`${server.name} answered without access_token: ${text}`);
      const claims = decodeJwt(token);
      const expected = computeThumbprint(cert as Buffer);
      const bound = (claims.cnf as Record<string, unknown> | undefined)?.['x5t#S256'];
      if (bound !== expected)
        throw new Error(`${server.name}: token is not bound to alice's certificate (cnf ${JSON.stringify(claims.cnf)})`);
      const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!audiences.includes(expectedAudience))
        throw new Error(`${server.name}: token aud ${JSON.stringify(claims.aud)} lacks ${expectedAudience}`);
      return token;
    } finally {
      await agent.close();
    }
  }
}

const exchangeBody = (audience: string): string =>
  new URLSearchParams({
    grant_type: TOKEN_EXCHANGE,
    subject_token: DEV_SUBJECT_TOKENS.alice,
    subject_token_type: ACCESS_TOKEN_TYPE,
    audience,
  }).toString();
const clientCredentialsBody = new URLSearchParams({ grant_type: 'client_credentials', audience: DEV_AUDIENCE }).toString();
const peerBody = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'alice', resource: DEV_AUDIENCE }).toString();

function ceilingRows(ceiling: CeilingResult): Row[] {
  // The node:crypto loops are synchronous: one core. jose's WebCrypto calls also use libuv's
  // thread pool, so their CPU is not one core's; it is not measured.
  const row = (id: string, scenario: string, rps: number, ratio?: string): Row => ({
    id,
    scenario,
    concurrency: undefined,
    rps,
    p50Ms: undefined,
    p99Ms: undefined,
    errors: 0,
    requests: 0,
    serverCores: id.startsWith('ceiling.jose') ? undefined : 1,
    loadgenCores: undefined,
    ...(ratio === undefined ? {} : { ratio }),
  });
  return [
    row('ceiling.sign', 'ceiling: ES256 sign, node:crypto, 1 core', ceiling.signPerSecond),
    row('ceiling.verify', 'ceiling: ES256 verify, node:crypto, 1 core', ceiling.verifyPerSecond),
    row(
      'ceiling.jose-sign',
      'jose 6 SignJWT (ES256, WebCrypto), one call at a time',
      ceiling.joseSignPerSecond,
      `${formatValue(ceiling.joseSignPerSecond / ceiling.signPerSecond, 'x')} raw sign`,
    ),
    row(
      'ceiling.jose-verify',
      'jose 6 jwtVerify (ES256, WebCrypto), one call at a time',
      ceiling.joseVerifyPerSecond,
      `${formatValue(ceiling.joseVerifyPerSecond / ceiling.verifyPerSecond, 'x')} raw verify`,
    ),
  ];
}

/**
 * Every phase, in order. All servers are started first, together (a CLI server takes a second
 * or two to start; idle servers cost nothing measurable), then the ceiling is measured, then the
 * phases run one at a time and each server is stopped as soon as its phases are done.
 */
async function runAll(bench: Bench): Promise<CeilingResult> {
  const { options } = bench;
  const form = (body: string, servername = 'sts.domain.com') => ({
    method: 'POST' as const,
    path: '/token',
    headers: FORM,
    body,
    expectBody: '"access_token"',
    servername,
  });
  const needSts = ['sts.keepalive', 'sts.newconn', 'sts.resume', 'sts.cc', 'resource.', 'grpc.'].some((id) => bench.wanted(id));
  const needBare = bench.wanted('bare.newconn') || bench.wanted('bare.resume');
  const resourceVariants: Array<[string, string, () => Promise<ServerProcess>]> = [
    [
      'resource.off',
      'resource server, verification off (same server, a verifier that accepts everything), keep-alive',
      () => bench.startBench('resource-noverify'),
    ],
    [
      'resource.verify',
      'resource server (certbound resource --token-cache 0), bound token verified, no cache, keep-alive',
      () => bench.startResource(false),
    ],
    [
      'resource.cache',
      'resource server (certbound resource --token-cache 10000), bound token, keep-alive',
      () => bench.startResource(true),
    ],
  ];
  const grpcVariants: Array<[string, string, ServerKind, string]> = [
    ['grpc.plain', 'gRPC unary SayHello over mTLS, no interceptor (token sent, not checked)', 'grpc-plain', '(anonymous)'],
    [
      'grpc.intercepted',
      'gRPC unary SayHello over mTLS, certbound interceptor (token cache 10000, as grpc-server)',
      'grpc-intercepted',
      '(alice)',
    ],
  ];

  const starting = new Map<string, Promise<ServerProcess | undefined>>();
  const launch = (key: string, start: () => Promise<ServerProcess | undefined>): void => {
    const promise = start();
    promise.catch(() => {}); // awaited below; a failure is reported there
    starting.set(key, promise);
  };
  if (needSts) launch('sts', () => bench.startSts(1));
  if (bench.wanted('sts.workers')) launch('sts.workers', () => bench.startSts(options.workers));
  if (bench.wanted('sts.silent')) launch('sts.silent', () => bench.startSilentSts());
  if (bench.wanted('reference')) launch('reference', () => bench.startBench('reference'));
  if (bench.wanted('peer')) launch('peer', () => bench.startBench('peer'));
  if (needBare) launch('bare', () => bench.startBench('bare-tls'));
  for (const [id, , start] of resourceVariants) if (bench.wanted(id)) launch(id, start);
  for (const [id, , kind] of grpcVariants) if (bench.wanted(id)) launch(id, () => bench.startBench(kind));
  bench.log(`starting ${starting.size} servers`);
  await Promise.allSettled(starting.values());
  const server = async (key: string): Promise<ServerProcess | undefined> => starting.get(key);

  bench.log(`ceiling: ES256 sign/verify for ${options.ceilingMs} ms each`);
  const { stdout } = await execFileAsync(process.execPath, [CEILING, bench.file('jwt.key'), String(options.ceilingMs)]);
  const ceiling = JSON.parse(stdout) as CeilingResult;
  bench.rows.push(...ceilingRows(ceiling));
  bench.log(`ceiling: sign ${ceiling.signPerSecond.toFixed(0)}/s, verify ${ceiling.verifyPerSecond.toFixed(0)}/s per core`);

  // Fetch one token from each token endpoint first: each must bind it to alice's certificate.
  const tokens: { resource?: string; grpc?: string } = {};
  const c = options.limits.concurrency;
  const sts = needSts ? ((await server('sts')) as ServerProcess) : undefined;
  if (sts !== undefined) {
    if (options.cpuProfileDir !== undefined) {
      bench.log(
        `--cpu-prof: sts, reference, resource-nocache and grpc-intercepted .cpuprofile files land in ${options.cpuProfileDir} once the servers stop; the STS's has ${Date.now() - sts.startedAt} ms of start-up and idle first: node dist/bench/profile-summary.js FILE 20 --skip-ms ${Date.now() - sts.startedAt}`,
      );
    }
    tokens.resource = await bench.fetchToken(sts, exchangeBody(DEV_AUDIENCE), DEV_AUDIENCE);
    tokens.grpc = await bench.fetchToken(sts, exchangeBody(DEV_GRPC_AUDIENCE), DEV_GRPC_AUDIENCE);
  }
  const stsSilent = bench.wanted('sts.silent') ? await server('sts.silent') : undefined;
  const silentScenario = 'STS token exchange, keep-alive, 1 worker, --log-level silent (no log lines)';
  if (bench.wanted('sts.silent') && stsSilent === undefined)
    bench.rows.push(unmeasuredRow('sts.silent', silentScenario, c, 'no --log-level'));
  if (stsSilent !== undefined) await bench.fetchToken(stsSilent, exchangeBody(DEV_AUDIENCE), DEV_AUDIENCE);
  const stsWorkers = bench.wanted('sts.workers') ? await server('sts.workers') : undefined;
  const workersScenario = `STS token exchange, keep-alive, --workers ${options.workers}`;
  if (bench.wanted('sts.workers') && stsWorkers === undefined)
    bench.rows.push(unmeasuredRow('sts.workers', workersScenario, c, 'no --workers'));
  if (stsWorkers !== undefined) await bench.fetchToken(stsWorkers, exchangeBody(DEV_AUDIENCE), DEV_AUDIENCE);
  const reference = bench.wanted('reference') ? ((await server('reference')) as ServerProcess) : undefined;
  if (reference !== undefined) await bench.fetchToken(reference, exchangeBody(DEV_AUDIENCE), DEV_AUDIENCE);
  const peer = bench.wanted('peer') ? ((await server('peer')) as ServerProcess) : undefined;
  if (peer !== undefined) await bench.fetchToken(peer, peerBody, DEV_AUDIENCE);
  const ccScenario = "STS client_credentials (the peer's grant), keep-alive, 1 worker";
  const cc = sts !== undefined && bench.wanted('sts.cc') && bench.clientCredentialsConfigured;
  if (sts !== undefined && bench.wanted('sts.cc') && !bench.clientCredentialsConfigured)
    bench.rows.push(unmeasuredRow('sts.cc', ccScenario, c, 'sts.yaml layout not recognised'));
  if (cc && sts !== undefined) await bench.fetchToken(sts, clientCredentialsBody, DEV_AUDIENCE);

  const members = (candidates: Array<Member | false | undefined>): Member[] =>
    candidates.filter((member): member is Member => member !== false && member !== undefined && bench.wanted(member.id));
  const exchange = form(exchangeBody(DEV_AUDIENCE));

  // Token endpoints over keep-alive connections: certbound (one worker, N workers, and the
  // peer's grant), the reference and the peer.
  await bench.measureGroup(
    'token endpoints, keep-alive',
    members([
      sts !== undefined && {
        id: 'sts.keepalive',
        scenario: 'STS token exchange, keep-alive, 1 worker',
        server: sts,
        phase: bench.http(sts, 'keep-alive', exchange),
      },
      stsSilent !== undefined && {
        id: 'sts.silent',
        scenario: silentScenario,
        server: stsSilent,
        phase: bench.http(stsSilent, 'keep-alive', exchange),
      },
      sts !== undefined &&
        cc && { id: 'sts.cc', scenario: ccScenario, server: sts, phase: bench.http(sts, 'keep-alive', form(clientCredentialsBody)) },
      stsWorkers !== undefined && {
        id: 'sts.workers',
        scenario: workersScenario,
        server: stsWorkers,
        phase: bench.http(stsWorkers, 'keep-alive', exchange),
      },
      reference !== undefined && {
        id: 'reference',
        scenario: 'reference: minimal node:https token endpoint (thumbprint + 1 ES256 signature), keep-alive',
        server: reference,
        phase: bench.http(reference, 'keep-alive', exchange),
      },
      peer !== undefined && {
        id: 'peer',
        scenario: 'peer: oidc-provider client_credentials + tls_client_auth, bound JWT, keep-alive',
        server: peer,
        phase: bench.http(peer, 'keep-alive', form(peerBody)),
      },
    ]),
  );
  for (const done of [stsSilent, stsWorkers, reference, peer]) if (done !== undefined) await bench.stop(done);

  // A new connection (a TLS handshake with alice's certificate) per token, against the same
  // handshakes with no token work behind them.
  const bare = needBare ? ((await server('bare')) as ServerProcess) : undefined;
  const bareRequest = form('grant_type=none');
  await bench.measureGroup(
    'new connection per request',
    members([
      sts !== undefined && {
        id: 'sts.newconn',
        scenario: 'STS token exchange, new connection per token (full handshake)',
        server: sts,
        phase: bench.http(sts, 'new-connection', exchange),
      },
      bare !== undefined && {
        id: 'bare.newconn',
        scenario: 'bare Node TLS server, no token work, new connection per request (full handshake)',
        server: bare,
        phase: bench.http(bare, 'new-connection', bareRequest),
      },
      sts !== undefined && {
        id: 'sts.resume',
        scenario: 'STS token exchange, new connection per token (TLS resumption)',
        server: sts,
        phase: bench.http(sts, 'resumption', exchange),
      },
      bare !== undefined && {
        id: 'bare.resume',
        scenario: 'bare Node TLS server, no token work, new connection per request (TLS resumption)',
        server: bare,
        phase: bench.http(bare, 'resumption', bareRequest),
      },
    ]),
  );
  for (const done of [sts, bare]) if (done !== undefined) await bench.stop(done);

  // The resource server with and without verification, and with the verified-token cache.
  const resources: Member[] = [];
  for (const [id, scenario] of resourceVariants) {
    if (!bench.wanted(id)) continue;
    if (tokens.resource === undefined) throw new Error('resource rows need the STS for a token');
    const resource = (await server(id)) as ServerProcess;
    resources.push({
      id,
      scenario,
      server: resource,
      phase: bench.http(resource, 'keep-alive', {
        method: 'GET',
        path: '/',
        headers: { authorization: `Bearer ${tokens.resource}` },
        expectBody: '"subject":"alice"',
        servername: 'server.domain.com',
      }),
    });
  }
  await bench.measureGroup('resource server', resources);
  for (const member of resources) await bench.stop(member.server);

  // gRPC unary calls with and without the interceptor.
  const grpcMembers: Member[] = [];
  for (const [id, scenario, , expectReply] of grpcVariants) {
    if (!bench.wanted(id)) continue;
    if (tokens.grpc === undefined) throw new Error('gRPC rows need the STS for a token');
    const grpc = (await server(id)) as ServerProcess;
    grpcMembers.push({
      id,
      scenario,
      server: grpc,
      phase: {
        kind: 'grpc',
        target: `127.0.0.1:${grpc.url.port}`,
        tls: bench.tls('grpc.domain.com'),
        token: tokens.grpc,
        expectReply,
        ...options.limits,
      },
    });
  }
  await bench.measureGroup('gRPC', grpcMembers);
  for (const member of grpcMembers) await bench.stop(member.server);
  return ceiling;
}

function ratios(rows: Row[], ceiling: CeilingResult, workers: number): Target[] {
  const byId = new Map(rows.filter((row) => row.na === undefined).map((row) => [row.id, row]));
  const rps = (id: string): number | undefined => byId.get(id)?.rps;
  const ratio = (a: string, b: string): number | undefined => {
    const x = rps(a);
    const y = rps(b);
    return x === undefined || y === undefined || y === 0 ? undefined : x / y;
  };
  for (const row of rows) {
    if (row.na !== undefined) continue;
    if (row.id.startsWith('sts.') || row.id === 'reference' || row.id === 'peer') {
      row.ratios = { signCeiling: row.rps / ceiling.signPerSecond };
      row.ratio = `${formatValue(row.ratios.signCeiling, '%')} of sign ceiling`;
    }
    if (row.id === 'resource.verify' || row.id === 'resource.cache') {
      row.ratios = { verifyCeiling: row.rps / ceiling.verifyPerSecond };
      row.ratio = `${formatValue(row.ratios.verifyCeiling, '%')} of verify ceiling`;
    }
    if (row.id === 'grpc.intercepted') {
      const value = ratio('grpc.intercepted', 'grpc.plain');
      if (value !== undefined) row.ratios = { withoutInterceptor: value };
      row.ratio = `${formatValue(value, 'x')} without interceptor (overhead ${formatValue(value === undefined ? undefined : 1 - value, '%')})`;
    }
  }
  const overhead = (id: string): number | undefined => {
    const value = ratio(id, 'resource.off');
    return value === undefined ? undefined : 1 - value;
  };
  const withoutInterceptor = ratio('grpc.intercepted', 'grpc.plain');
  const grpcOverhead = withoutInterceptor === undefined ? undefined : 1 - withoutInterceptor;
  const ccPerPeer = ratio('sts.cc', 'peer');
  const withLogs = ratio('sts.keepalive', 'sts.silent');
  const loggingCost = withLogs === undefined ? undefined : 1 - withLogs;
  const peerRow = byId.get('peer');
  if (peerRow !== undefined && ccPerPeer !== undefined) {
    peerRow.ratios = { ...peerRow.ratios, clientCredentialsPerPeer: ccPerPeer };
    peerRow.ratio = `${peerRow.ratio ?? ''}; certbound client_credentials/peer ${formatValue(ccPerPeer, 'x')}`;
  }
  return [
    target('sts-vs-reference', 'reference', 'certbound STS (1 worker) / reference', ratio('sts.keepalive', 'reference'), '>=', 0.8, 'x'),
    // The same grant on both sides: client_credentials with tls_client_auth.
    target('sts-vs-peer', 'peer', 'certbound client_credentials / peer', ccPerPeer, '>=', 3, 'x'),
    target('workers', 'sts.workers', `${workers} workers / 1 worker`, ratio('sts.workers', 'sts.keepalive'), '>=', 1.35, 'x'),
    target(
      'newconn-vs-bare',
      'bare.newconn',
      'certbound STS / bare TLS, full handshakes',
      ratio('sts.newconn', 'bare.newconn'),
      '>=',
      0.8,
      'x',
    ),
    target(
      'resume-vs-bare',
      'bare.resume',
      'certbound STS / bare TLS, resumed handshakes',
      ratio('sts.resume', 'bare.resume'),
      '>=',
      0.8,
      'x',
    ),
    target('resource-overhead-cache', 'resource.cache', 'overhead vs verification off', overhead('resource.cache'), '<=', 0.1, '%'),
    target('resource-overhead-nocache', 'resource.verify', 'overhead vs verification off', overhead('resource.verify'), '<=', 0.35, '%'),
    target('grpc-overhead', 'grpc.intercepted', 'interceptor overhead (cache on)', grpcOverhead, '<=', 0.1, '%'),
    // A log line per token (info) against none (silent): within the noise of a shared machine.
    target('logging-cost', 'sts.silent', 'logging cost, info vs silent', loggingCost, '<=', 0.05, '%'),
  ];
}

/** CPU (in cores) that other processes use over `ms`, or undefined without /proc. */
async function otherLoad(ms: number): Promise<number | undefined> {
  const before = machineBusySeconds();
  const self = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = machineBusySeconds();
  const own = process.cpuUsage(self);
  if (before === undefined || after === undefined) return undefined;
  return Math.max(0, (after - before - (own.user + own.system) / 1e6) / (ms / 1000));
}

/** Sample other load; with --wait-quiet, until it is below 0.1 cores or the time is up. */
async function settle(bench: Bench): Promise<number | undefined> {
  const deadline = Date.now() + bench.options.waitQuietMs;
  let load = await otherLoad(bench.options.quick ? 200 : 1000);
  while (load !== undefined && load > 0.1 && Date.now() < deadline) {
    bench.log(`other processes use ${load.toFixed(2)} cores; waiting for a quiet machine`);
    load = await otherLoad(2000);
  }
  if (load !== undefined && load > 0.1) bench.log(`warning: other processes use ${load.toFixed(2)} cores; figures will be noisy`);
  return load;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  installCleanup();
  const bench = new Bench(options);
  const started = Date.now();
  try {
    const otherLoadBefore = await settle(bench);
    await bench.setUp();
    const ceiling = await runAll(bench);
    const targets = ratios(bench.rows, ceiling, options.workers);
    const meta: Meta = {
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
      cores: availableParallelism(),
      date: new Date().toISOString(),
      command: `node ${['dist/bench/run.js', ...process.argv.slice(2)].join(' ')}`,
      quick: options.quick,
      workDir: bench.workDir,
      phase: { ...options.limits, rounds: options.rounds },
      workers: { requested: options.workers, supported: !bench.withoutWorkersFlag.has('sts') },
      totalSeconds: Math.round((Date.now() - started) / 1000),
      ...(otherLoadBefore === undefined ? {} : { otherLoadBeforeCores: Number(otherLoadBefore.toFixed(2)) }),
    };
    const order = (id: string): number => (ROW_IDS as readonly string[]).indexOf(id);
    const report: Report = { meta, ceiling, rows: [...bench.rows].sort((a, b) => order(a.id) - order(b.id)), targets };
    await writeFile(options.out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${renderTable(report)}\n\nwrote ${options.out} (${meta.totalSeconds} s)\n`);
    const missed = targets.filter((t) => t.met === false);
    if (options.check && missed.length > 0) {
      process.stderr.write(`bench --check: ${missed.length} target(s) missed: ${missed.map((t) => t.id).join(', ')}\n`);
      return 3;
    }
    return 0;
  } finally {
    await bench.tearDown();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    if (error instanceof StartFailure && error.stderr !== '') process.stderr.write(`server stderr:\n${error.stderr}\n`);
    killAllChildren();
    process.exitCode = 1;
  },
);
