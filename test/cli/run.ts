// Helpers for the CLI tests: run `certbound` as a real child process, start its servers and read
// their ready lines, and make sure nothing outlives the test file. Not a test file itself.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { whenever } from '../helpers/wait.js';

/** The compiled CLI; this module is compiled to dist/test/cli/run.js. */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A CLI invocation that should finish gets this long before it is killed and the test fails. */
export const RUN_TIMEOUT_MS = 20_000;
/** A server has this long to print its ready line. */
export const READY_TIMEOUT_MS = 15_000;
/** A server has this long to exit after SIGTERM. */
export const STOP_TIMEOUT_MS = 5_000;

export interface RunResult {
  /** The child's pid (with `processGroup`, also its process group id). */
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Every child started through this module that has not exited yet, and whether it leads its own process group. */
const live = new Map<ChildProcess, boolean>();

function track(child: ChildProcess, processGroup = false): void {
  live.set(child, processGroup);
  child.once('exit', () => live.delete(child));
}

/** SIGKILL a child, or its whole process group (the child and whatever it started) when it leads one. */
function forceKill(child: ChildProcess, processGroup: boolean): void {
  if (processGroup && child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
      return;
    } catch {
      // the group is gone already; fall through to the child itself
    }
  }
  child.kill('SIGKILL');
}

/** Whether any process is left in the process group `pgid`. */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGKILL the process group `pgid` (one started with `processGroup`) if anything is left in it. */
export function killProcessGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // nothing left
  }
}

/** SIGKILL every child still running; for `after` hooks, so a failing test leaves nothing behind. */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      ([child, processGroup]) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          forceKill(child, processGroup);
        }),
    ),
  );
}

export interface RunOptions {
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  timeoutMs?: number;
  cwd?: string;
  /**
   * Start the child as the leader of a new process group, so that a timeout or `killAll` also
   * kills the processes it started (for `demo`, which runs its own servers).
   */
  processGroup?: boolean;
  /** Variables added to (or, when undefined, removed from) this process's environment. */
  env?: NodeJS.ProcessEnv;
}

/** Run `certbound ...args` to completion (bounded), optionally feeding `input` on stdin. */
export function runCli(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? RUN_TIMEOUT_MS;
  const processGroup = options.processGroup === true;
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: processGroup,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
  });
  track(child, processGroup);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => {}); // the CLI may exit without reading stdin
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      forceKill(child, processGroup);
      reject(new Error(`certbound ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ pid: child.pid as number, code, signal, stdout, stderr });
    });
  });
}

export interface CliServer {
  name: string;
  /** The origin from the ready line, e.g. https://127.0.0.1:40123. */
  url: string;
  readyLine: string;
  child: ChildProcess;
  /** Everything the server wrote to stderr so far (its JSON event log). */
  stderr(): string;
  /**
   * Resolve once stderr contains `condition` (or `condition(stderr)` holds), checked each time the
   * server writes to it; rejects after `timeoutMs` (default 5 s), or at once if stderr closes.
   */
  untilLogged(condition: string | ((stderr: string) => boolean), what?: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then wait (bounded) for the exit; resolves with the exit code and signal. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const READY = /^certbound (\S+) listening on (https?:\/\/127\.0\.0\.1:\d+|unix:\/\S+)(?:\s.*)?$/;

/** Start a server command (`sts ...`, `resource ...`) and resolve once it prints its ready line. */
export function startServer(
  args: string[],
  timeoutMs = READY_TIMEOUT_MS,
  options: { defaultWorkers?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<CliServer> {
  // One process per server unless a test asks for workers: the default (one per core) is tested
  // in workers.test.ts, and a dozen servers × cores would only slow the suite down.
  if ((args[0] === 'sts' || args[0] === 'resource') && !args.includes('--workers') && options.defaultWorkers !== true)
    args = [...args, '--workers', '1'];
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
  });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const untilLogged = (condition: string | ((stderr: string) => boolean), what?: string, timeoutMs?: number): Promise<void> =>
    whenever(
      child.stderr,
      'data',
      typeof condition === 'string' ? () => stderr.includes(condition) : () => condition(stderr),
      `certbound ${args[0]}: ${what ?? (typeof condition === 'string' ? condition : 'condition')}`,
      {
        timeoutMs,
        failOn: ['end'],
        context: () => `stderr: ${stderr}`,
      },
    );
  const stop = async (stopTimeoutMs = STOP_TIMEOUT_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`certbound ${args[0]} did not exit within ${stopTimeoutMs} ms of SIGTERM`));
      }, stopTimeoutMs);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`certbound ${args.join(' ')}: ${why}\nstdout: ${stdout}\nstderr: ${stderr}`));
    };
    const timer = setTimeout(() => fail(`no ready line within ${timeoutMs} ms`), timeoutMs);
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code, signal) => fail(`exited (code ${code}, signal ${signal}) before its ready line`));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (settled) return;
      const newline = stdout.indexOf('\n');
      if (newline === -1) return;
      const readyLine = stdout.slice(0, newline);
      const match = READY.exec(readyLine);
      if (match === null) return fail(`unexpected first line ${JSON.stringify(readyLine)}`);
      settled = true;
      clearTimeout(timer);
      resolve({ name: match[1] as string, url: match[2] as string, readyLine, child, stderr: () => stderr, untilLogged, stop });
    });
  });
}

/** A fresh temporary directory; remove it with `removeTempDir`. */
export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `certbound-cli-${prefix}-`));
}

export function removeTempDir(dir: string | undefined): Promise<void> {
  return dir === undefined ? Promise.resolve() : rm(dir, { recursive: true, force: true });
}

/** `certbound pki init --out dir`, failing loudly if it does not exit 0. */
export async function pkiInit(dir: string): Promise<void> {
  const result = await runCli(['pki', 'init', '--out', dir]);
  if (result.code !== 0) throw new Error(`pki init --out ${dir} exited ${result.code}: ${result.stderr}`);
}

/** Run a helper tool such as openssl synchronously (bounded); returns stdout. Throws on non-zero exit. */
export function tool(command: string, args: string[], input?: Buffer | string): Buffer {
  return execFileSync(command, args, { ...(input === undefined ? {} : { input }), timeout: 10_000, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** The stderr lines, without a trailing empty line. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line, index, all) => !(index === all.length - 1 && line === ''));
}
