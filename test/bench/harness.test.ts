// The bench harness (npm run bench) on a tiny load: every phase runs end to end, every row of
// the table has figures and no errors, the JSON report is written, and no process is left over.
// This keeps bench/ from rotting; the figures of a --quick run mean nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROW_IDS, TARGET_IDS, type Report } from '../../bench/report.js';

/** dist/bench/run.js; this file is compiled to dist/test/bench/harness.test.js. */
const RUN = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
const RUN_TIMEOUT_MS = 100_000;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), RUN_TIMEOUT_MS);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Processes whose command line mentions `text` (Linux /proc; elsewhere none are found). */
function processesMentioning(text: string): number[] {
  if (!existsSync('/proc')) return [];
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // gone already
    }
  }
  return found;
}

test('npm run bench runs end to end on a tiny load (--quick)', { timeout: RUN_TIMEOUT_MS + 20_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-bench-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'results.json');

  const { code, stdout, stderr } = await run(['--quick', '--check', '--out', out]);
  assert.ok(code === 0 || code === 3, `bench exited ${code}\n${stderr}`);

  const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
  // --check: exit 3 exactly when a measured target is missed, naming each one.
  const missed = report.targets.filter((target) => target.met === false).map((target) => target.id);
  assert.equal(code, missed.length > 0 ? 3 : 0, `exit ${code} with missed targets [${missed.join(', ')}]`);
  if (missed.length > 0) assert.match(stderr, new RegExp(`bench --check: ${missed.length} target\\(s\\) missed: ${missed.join(', ')}`));
  assert.deepEqual(
    report.rows.map((row) => row.id),
    [...ROW_IDS],
    'every row, in order',
  );
  for (const row of report.rows) {
    if (row.na !== undefined) {
      // Only the multi-worker row may be missing, and only when the CLI has no --workers.
      assert.equal(row.id, 'sts.workers', `${row.id} was not measured: ${row.na}`);
      assert.equal(report.meta.workers.supported, false);
      continue;
    }
    assert.ok(row.rps > 0, `${row.id}: rate ${row.rps}`);
    assert.equal(row.errors, 0, `${row.id}: ${row.errors} errors: ${row.errorSamples?.join(' | ')}`);
    if (!row.id.startsWith('ceiling.')) {
      assert.ok(row.requests > 0, `${row.id}: ${row.requests} requests`);
      assert.ok((row.p50Ms ?? 0) > 0 && (row.p99Ms ?? 0) >= (row.p50Ms ?? 0), `${row.id}: p50 ${row.p50Ms} p99 ${row.p99Ms}`);
    }
    assert.ok(stdout.includes(row.scenario), `the table has a line for ${row.id}`);
  }
  // New-connection rows really made a handshake per request, resumed or not as they say.
  for (const id of ['sts.newconn', 'bare.newconn', 'sts.resume', 'bare.resume']) {
    const row = report.rows.find((candidate) => candidate.id === id);
    assert.ok((row?.connections ?? 0) >= (row?.requests ?? 0), `${id}: ${row?.connections} handshakes for ${row?.requests} requests`);
    const resumed = row?.resumedConnections ?? 0;
    if (id.endsWith('.resume')) assert.ok(resumed > 0, `${id}: no resumed handshake`);
    else assert.equal(resumed, 0, `${id}: resumed handshakes`);
  }
  assert.deepEqual(report.targets.map((target) => target.id).sort(), [...TARGET_IDS].sort());
  for (const target of report.targets) {
    if (target.id === 'workers' && !report.meta.workers.supported) continue;
    assert.ok(Number.isFinite(target.value), `target ${target.id} has a value`);
  }
  assert.ok(report.ceiling.signPerSecond > 0 && report.ceiling.verifyPerSecond > 0);
  assert.match(stdout, new RegExp(`node ${report.meta.node.replace(/\./g, '\\.')}`));
  assert.match(stdout, /\d+ cores shared by the server under test and the load generator/);
  assert.match(stdout, /^targets: \d+ met, \d+ missed/m);
  assert.ok(report.meta.quick);

  // Nothing the run started is still running (a SIGKILLed worker may take a moment to go), and
  // its working directory is gone.
  let left = processesMentioning(report.meta.workDir);
  for (let attempt = 0; attempt < 20 && left.length > 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = processesMentioning(report.meta.workDir);
  }
  assert.deepEqual(left, [], 'no bench process left behind');
  assert.equal(existsSync(report.meta.workDir), false, 'working directory removed');
});

test('bench/log-cost.js and bench/metrics-cost.js run on a tiny count and print their tables', async () => {
  for (const [script, rows] of [
    ['log-cost.js', 3],
    ['metrics-cost.js', 2],
  ] as const) {
    const path = fileURLToPath(new URL(`../../bench/${script}`, import.meta.url));
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [path, '2000'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGTERM'), RUN_TIMEOUT_MS);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout });
      });
    });
    assert.equal(result.code, 0, `${script}: ${result.stdout}`);
    const figures = result.stdout.split('\n').filter((line) => /^\| [^-|][^|]* \| -?\d+\.\d\d \|/.test(line));
    assert.equal(figures.length, rows, `${script}:\n${result.stdout}`);
  }
});
