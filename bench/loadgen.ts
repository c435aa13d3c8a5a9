// The load generator: a child process of the bench runner (bench/run.ts), so that it never
// shares an event loop with a server. It runs one phase at a time, as the runner asks over IPC.
// Every connection is mutual TLS with a real client certificate (alice's); HTTP uses undici,
// gRPC uses @grpc/grpc-js.
import { readFileSync } from 'node:fs';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { credentials, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { buildConnector, Pool } from 'undici';
import { loadEchoDefinitions } from '../src/cli/servers/echo-server.js';
import { percentile, record, type Histogram } from './histogram.js';
import type { GrpcPhase, HttpPhase, LoadgenReply, LoadgenRequest, Phase, PhaseLimits, PhaseResult } from './protocol.js';

/** Collects one phase's measured outcomes. */
class Recorder {
  readonly latencies: Histogram = {};
  successes = 0;
  errors = 0;
  issued = 0;
  maxMs = 0;
  readonly samples = new Set<string>();

  constructor(readonly maxRequests: number) {}

  success(ms: number): void {
    this.successes++;
    record(this.latencies, ms);
    if (ms > this.maxMs) this.maxMs = ms;
  }

  error(description: string): void {
    this.errors++;
    if (this.samples.size < 5) this.samples.add(description.slice(0, 300));
  }
}

type Attempt = () => Promise<string | undefined>;

/**
 * Warm up (nothing recorded), then measure: `concurrency` loops each issue one request at a time
 * until the window or the request budget is used up. `attempt` resolves undefined on success,
 * or an error description.
 */
async function drive(
  limits: PhaseLimits,
  attempt: Attempt,
  onMeasureStart: () => void,
): Promise<{ recorder: Recorder; elapsedMs: number; cpuSeconds: number }> {
  const loops = async (until: number, recorder: Recorder | undefined): Promise<void> => {
    const loop = async (): Promise<void> => {
      while (performance.now() < until && (recorder === undefined || recorder.issued < recorder.maxRequests)) {
        if (recorder !== undefined) recorder.issued++;
        const started = performance.now();
        let failure: string | undefined;
        try {
          failure = await attempt();
        } catch (error) {
          failure = describe(error);
        }
        if (recorder === undefined) continue;
        if (failure === undefined) recorder.success(performance.now() - started);
        else recorder.error(failure);
      }
    };
    await Promise.all(Array.from({ length: limits.concurrency }, loop));
  };
  await loops(performance.now() + limits.warmupMs, undefined);
  const recorder = new Recorder(limits.maxRequests);
  onMeasureStart();
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await loops(start + limits.durationMs, recorder);
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  return { recorder, elapsedMs, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const cause = error.cause instanceof Error ? ` <- ${error.cause.message}` : '';
    return `${code === undefined ? '' : `${code} `}${error.message}${cause}`;
  }
  return String(error);
}

function summarise(recorder: Recorder, elapsedMs: number, cpuSeconds: number, connections: number, resumed: number): PhaseResult {
  return {
    requests: recorder.successes,
    errors: recorder.errors,
    errorSamples: [...recorder.samples],
    elapsedMs,
    rps: elapsedMs > 0 ? (recorder.successes * 1000) / elapsedMs : 0,
    p50Ms: percentile(recorder.latencies, 0.5),
    p99Ms: percentile(recorder.latencies, 0.99),
    maxMs: recorder.maxMs,
    latencies: recorder.latencies,
    connections,
    resumedConnections: resumed,
    loadgenCpuSeconds: cpuSeconds,
  };
}

async function runHttp(phase: HttpPhase, onMeasureStart: () => void): Promise<PhaseResult> {
  // One secure context for the whole phase: built per connection (as `ca`/`cert`/`key` options
  // would be), parsing the PEMs would cost the generator more than the handshake itself.
  const secureContext = createSecureContext({
    ca: readFileSync(phase.tls.caFile),
    cert: readFileSync(phase.tls.certFile),
    key: readFileSync(phase.tls.keyFile),
  });
  const base = buildConnector({
    secureContext,
    servername: phase.tls.servername,
    minVersion: 'TLSv1.2',
    // No session cache at all for full handshakes; undici's cache (per connector) for resumption.
    maxCachedSessions: phase.mode === 'resumption' ? 100 : 0,
  });
  let counting = false;
  let connections = 0;
  let resumed = 0;
  const connect: buildConnector.connector = (options, callback) => {
    base(options, (...args) => {
      const [error, socket] = args;
      if (error === null && counting) {
        connections++;
        if ((socket as TLSSocket).isSessionReused?.() === true) resumed++;
      }
      callback(...args);
    });
  };
  const pool = new Pool(phase.url, { connections: phase.concurrency, pipelining: 1, connect });
  const reset = phase.mode !== 'keep-alive';
  const attempt: Attempt = async () => {
    const response = await pool.request({
      path: phase.path,
      method: phase.method,
      headers: phase.headers,
      ...(phase.body === undefined ? {} : { body: phase.body }),
      reset,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) return `HTTP ${response.statusCode}: ${text.slice(0, 200)}`;
    if (!text.includes(phase.expectBody)) return `HTTP 200 without ${JSON.stringify(phase.expectBody)}: ${text.slice(0, 200)}`;
    return undefined;
  };
  try {
    const { recorder, elapsedMs, cpuSeconds } = await drive(phase, attempt, () => {
      counting = true;
      onMeasureStart();
    });
    return summarise(recorder, elapsedMs, cpuSeconds, connections, resumed);
  } finally {
    await pool.destroy();
  }
}

interface EchoClient extends Client {
  SayHello(
    request: { name: string },
    metadata: Metadata,
    options: { deadline: number },
    callback: (error: ServiceError | null, reply?: { message: string }) => void,
  ): void;
}

async function runGrpc(phase: GrpcPhase, onMeasureStart: () => void): Promise<PhaseResult> {
  const { EchoServer } = loadEchoDefinitions();
  const channel = credentials.createSsl(readFileSync(phase.tls.caFile), readFileSync(phase.tls.keyFile), readFileSync(phase.tls.certFile));
  const client = new EchoServer(phase.target, channel, {
    'grpc.ssl_target_name_override': phase.tls.servername,
    'grpc.default_authority': phase.tls.servername,
  }) as unknown as EchoClient;
  const authorization = phase.token === undefined ? undefined : `Bearer ${phase.token}`;
  const attempt: Attempt = () =>
    new Promise((resolve) => {
      const metadata = new Metadata();
      if (authorization !== undefined) metadata.set('authorization', authorization);
      client.SayHello({ name: 'bench' }, metadata, { deadline: Date.now() + 10_000 }, (error, reply) => {
        if (error !== null) resolve(`${error.code} ${error.details}`);
        else if (reply?.message.includes(phase.expectReply) !== true) resolve(`unexpected reply ${JSON.stringify(reply?.message)}`);
        else resolve(undefined);
      });
    });
  try {
    const { recorder, elapsedMs, cpuSeconds } = await drive(phase, attempt, onMeasureStart);
    return summarise(recorder, elapsedMs, cpuSeconds, 0, 0); // one channel, opened in the warm-up
  } finally {
    client.close();
  }
}

export function runPhase(phase: Phase, onMeasureStart: () => void = () => {}): Promise<PhaseResult> {
  return phase.kind === 'http' ? runHttp(phase, onMeasureStart) : runGrpc(phase, onMeasureStart);
}

function send(message: LoadgenReply): void {
  process.send?.(message);
}

if (process.send !== undefined) {
  // Phases run one after another, in the order they arrive.
  let queue = Promise.resolve();
  process.on('message', (message: LoadgenRequest) => {
    if (message.type === 'exit') {
      queue = queue.then(() => process.disconnect());
      return;
    }
    queue = queue.then(() =>
      runPhase(message.phase, () => send({ type: 'measuring', id: message.id })).then(
        (result) => send({ type: 'result', id: message.id, result }),
        (error: unknown) => send({ type: 'failed', id: message.id, error: describe(error) }),
      ),
    );
  });
  // Without the runner there is nothing to do: leave rather than linger.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}
