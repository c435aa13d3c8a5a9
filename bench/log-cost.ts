// What one event line costs the process that logs it, in CPU time: certbound's logger (pino, at
// info and at silent) against the batched writer it replaced, each in a child process whose stderr
// is a pipe drained by this one, as a server's is by its supervisor. Each child emits the STS's
// token.issued event 16 times per turn of the event loop (16 requests in flight), N times in
// all, and reports its CPU time at exit, after the last line is written; a child that only runs
// the loop is the baseline.
//
//   node dist/bench/log-cost.js [N]     (default 200000; prints one markdown table)
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { logEvent } from '../src/cli/log.js';

const MODES = ['baseline', 'batched writer (before)', 'pino, info', 'pino, silent'] as const;
type Mode = (typeof MODES)[number];
const PER_TURN = 16;

/** The writer certbound used before pino (src/cli/serve.ts at 4f3f960), kept here to compare. */
function batchedWriter(name: string): (event: object) => void {
  let pending: string[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    process.stderr.write(chunk);
  };
  process.on('exit', flush);
  return (event) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(`${JSON.stringify({ time: new Date().toISOString(), service: name, ...event })}\n`);
  };
}

function loggerFor(mode: Mode): (event: object) => void {
  if (mode === 'batched writer (before)') return batchedWriter('sts');
  if (mode === 'pino, info') return logEvent('sts', 'info');
  if (mode === 'pino, silent') return logEvent('sts', 'silent');
  return () => {};
}

async function child(mode: Mode, count: number): Promise<void> {
  const log = loggerFor(mode);
  const start = process.cpuUsage();
  for (let done = 0; done < count; done += PER_TURN) {
    for (let i = 0; i < PER_TURN; i++) {
      // Built per request, as the STS builds it.
      log({
        type: 'token.issued',
        clientId: 'alice',
        subject: 'alice',
        jti: `0d3c1e9a-6a1b-4bd2-9f3e-${String(done + i).padStart(12, '0')}`,
        thumbprint: 'Gbl06y6VqMyQX2V0bQ6fU7-JDz3nqP0hZ-6CV0a6T9A',
        grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
      });
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  process.on('exit', () => {
    const used = process.cpuUsage(start);
    writeSync(1, `${JSON.stringify({ cpuMicros: used.user + used.system })}\n`);
  });
}

function measure(mode: Mode, count: number): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  const proc = spawn(process.execPath, [self, '--child', mode, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let lines = 0;
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  proc.stderr.on('data', (chunk: Buffer) => {
    for (const byte of chunk) if (byte === 10) lines++;
  });
  return new Promise((resolve, reject) => {
    proc.once('close', (code) => {
      const expected = mode === 'baseline' || mode === 'pino, silent' ? 0 : count;
      if (code !== 0 || lines !== expected) reject(new Error(`${mode}: exit ${code}, ${lines} lines of ${expected}`));
      else resolve((JSON.parse(out) as { cpuMicros: number }).cpuMicros);
    });
  });
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 200_000);
  const cpu = new Map<Mode, number[]>(MODES.map((mode) => [mode, []]));
  // Three rounds, modes alternated, the fastest of each kept: background load only adds.
  for (let round = 0; round < 3; round++) for (const mode of MODES) cpu.get(mode)?.push(await measure(mode, count));
  const best = (mode: Mode): number => Math.min(...(cpu.get(mode) ?? []));
  const baseline = best('baseline');
  process.stdout.write(
    `log cost: ${count} token.issued events, ${PER_TURN} per event-loop turn, stderr a pipe; node ${process.version}\n\n`,
  );
  process.stdout.write('| logger | CPU µs per event, above the loop alone |\n| --- | ---: |\n');
  for (const mode of MODES.slice(1)) process.stdout.write(`| ${mode} | ${((best(mode) - baseline) / count).toFixed(2)} |\n`);
}

if (process.argv[2] === '--child') await child(process.argv[3] as Mode, Number(process.argv[4]));
else await main();
