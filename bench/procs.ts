// Child processes of a bench run: servers (each leads its own process group, so that a server
// with cluster workers is stopped whole) and the load generator. Every child started here is
// tracked and killed when the run ends, fails or is interrupted.
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';

const live = new Set<ChildProcess>();

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

const finalizers = new Set<() => void>();

/** A synchronous clean-up (e.g. removing a temporary directory) to run when the process ends. */
export function onFinalCleanup(finalizer: () => void): () => void {
  finalizers.add(finalizer);
  return () => finalizers.delete(finalizer);
}

/** SIGKILL every child still running (and its process group). Synchronous: safe in 'exit'. */
export function killAllChildren(): void {
  for (const child of live) signalGroup(child, 'SIGKILL');
}

function finalCleanup(): void {
  killAllChildren();
  for (const finalizer of finalizers) {
    try {
      finalizer();
    } catch {
      // best effort: the process is ending
    }
  }
  finalizers.clear();
}

let hooked = false;
/** Kill children on exit, on SIGINT/SIGTERM and on an uncaught error. Idempotent. */
export function installCleanup(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', finalCleanup);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`bench: ${signal}, stopping every child process\n`);
      finalCleanup();
      process.exit(130);
    });
  }
}

export interface ServerProcess {
  name: string;
  child: ChildProcess;
  /** The https://127.0.0.1:PORT the server printed. */
  url: URL;
  /** File its stderr goes to (events, warnings), for a failure report. */
  logFile: string;
  /** Date.now() when it was spawned. */
  startedAt: number;
  stop(): Promise<void>;
}

export class StartFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 3_000;

/**
 * Start `node <args>` as a server, in its own process group, stderr to `logFile`, and wait for a
 * stdout line with an https URL. Rejects with StartFailure (exit code and stderr) when the
 * process exits first or says nothing in time.
 */
export async function startServer(
  name: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServerProcess> {
  const startedAt = Date.now();
  const errFd = openSync(logFile, 'w');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', errFd], detached: true, env });
  closeSync(errFd);
  track(child);
  const url = await new Promise<URL>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      signalGroup(child, 'SIGKILL');
      reject(new StartFailure(`${name} printed no ready line within ${READY_TIMEOUT_MS} ms`, null, readLog(logFile)));
    }, READY_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const match = /https:\/\/[^\s)]+/.exec(buffered);
      if (match !== null) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        child.stdout?.resume(); // keep draining whatever else it prints
        resolve(new URL(match[0]));
      }
    };
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new StartFailure(`${name} exited with code ${code} before it was ready`, code, readLog(logFile)));
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
  return {
    name,
    child,
    url,
    logFile,
    startedAt,
    stop: () => stopChild(child),
  };
}

/** SIGTERM (the servers drain and exit 0), then SIGKILL the group after a deadline. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      signalGroup(child, 'SIGKILL'); // cluster workers, if any outlived their primary
      resolve();
      return;
    }
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      signalGroup(child, 'SIGKILL');
      resolve();
    });
    signalGroup(child, 'SIGTERM');
  });
}

export function readLog(file: string, maxChars = 4000): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.length > maxChars ? `...${text.slice(-maxChars)}` : text;
  } catch {
    return '';
  }
}

/** Fork a Node module with an IPC channel (the load generator), tracked like the servers. */
export function forkModule(modulePath: string, args: string[] = []): ChildProcess {
  const child = fork(modulePath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
  track(child);
  return child;
}

/** Clock ticks per second of /proc/<pid>/stat: 100 on every Linux Node supports. */
const CLOCK_TICKS = 100;

/**
 * CPU seconds (user + system) used so far by `pid` and its live descendants (cluster workers),
 * from /proc. Undefined where /proc is not available.
 */
export function cpuSecondsOfTree(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const parentOf = new Map<number, number>();
  const ticksOf = new Map<number, number>();
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) may contain spaces; fields after it are space-separated.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(fields[1]));
      ticksOf.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch {
      // the process ended while we looked
    }
  }
  if (!ticksOf.has(pid)) return undefined;
  let ticks = 0;
  for (const [candidate, own] of ticksOf) {
    let cursor: number | undefined = candidate;
    while (cursor !== undefined && cursor > 1 && cursor !== pid) cursor = parentOf.get(cursor);
    if (cursor === pid) ticks += own;
  }
  return ticks / CLOCK_TICKS;
}

/**
 * Busy CPU seconds of the whole machine so far (all cores: user, nice, system, irq, softirq,
 * steal), from /proc/stat; undefined elsewhere. The part not used by the server and the load
 * generator is other load, which the report shows so that a noisy run is visible as such.
 */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
