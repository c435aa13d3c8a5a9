import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { AdminSettings } from './operations.js';
import { startPrimaryAdmin, type PrimaryAdmin } from './primary-admin.js';

/**
 * Multi-core serving with node:cluster. The primary forks N workers that run the same command
 * (each loads the configuration, keys and policy itself) and listen on the same port, which the
 * primary shares: the kernel socket is the primary's and connections are handed out round-robin.
 * The primary itself serves nothing: it starts workers, prints the ready line, forwards SIGHUP,
 * turns SIGTERM/SIGINT into a drain of every worker, and replaces a worker that dies.
 */

/** Messages between the primary and a worker (over the cluster IPC channel). */
type ToPrimary = { type: 'certbound.ready'; url: string; extra: string };
type ToWorker = { type: 'certbound.shutdown' };

/** --workers N (or workers: in the configuration file); the default is one per available core. */
export function workersOf(workers: number | undefined): number {
  return workers ?? availableParallelism();
}

/** True in a process forked by `runPrimary`. */
export function isWorker(): boolean {
  return cluster.isWorker;
}

/** A worker's side: tell the primary it is listening (instead of printing the ready line). */
export function announceReady(url: URL, extra: string): void {
  process.send?.({ type: 'certbound.ready', url: url.origin, extra } satisfies ToPrimary);
}

/**
 * A worker's side: call `stop` when the primary asks for a drain (a second request forces it), or
 * when the primary is gone. Workers ignore SIGTERM/SIGINT themselves: a terminal's Ctrl-C reaches
 * the whole process group, and the primary's drain request is the one that counts.
 */
export function onShutdownRequest(stop: () => void): () => void {
  const onMessage = (message: unknown): void => {
    if ((message as ToWorker | null)?.type === 'certbound.shutdown') stop();
  };
  const ignore = (): void => {};
  process.on('message', onMessage);
  process.on('disconnect', stop);
  process.on('SIGTERM', ignore);
  process.on('SIGINT', ignore);
  return () => {
    process.off('message', onMessage);
    process.off('disconnect', stop);
    process.off('SIGTERM', ignore);
    process.off('SIGINT', ignore);
  };
}

/** A worker whose command has finished (served and drained, or failed) closes its IPC channel, which would otherwise keep it alive. */
export function leaveCluster(): void {
  // worker.disconnect(), unlike process.disconnect(), keeps the exit code the command set.
  if (cluster.isWorker && process.connected) cluster.worker?.disconnect();
}

/** A worker that dies is replaced, but not more often than this (a crash loop stays slow). */
const RESTART_DELAY_MS = 1000;

/**
 * The primary's side. Starts one worker first, so that a configuration error is reported once
 * (by that worker, on one line) and its exit code becomes the command's; then the rest.
 * Resolves with the exit code once every worker has exited after a signal.
 */
export async function runPrimary(
  name: 'sts' | 'resource',
  count: number,
  logEvents: (event: object) => void,
  adminSettings: AdminSettings = {},
): Promise<number> {
  cluster.setupPrimary({ silent: false });
  const workers = new Set<Worker>();
  const readySet = new Set<Worker>();
  let stopping = false;
  let signals = 0;
  const admin: PrimaryAdmin | undefined =
    adminSettings.adminPort === undefined
      ? undefined
      : await startPrimaryAdmin(name, adminSettings, { expected: count, ready: () => [...readySet], stopping: () => stopping });
  const log = (event: object): void => {
    logEvents(event);
    admin?.observe(event);
  };
  if (admin !== undefined) log({ type: 'admin.listening', url: admin.url.origin });

  const fork = (): Promise<{ worker: Worker; ready: ToPrimary } | { exitCode: number }> =>
    new Promise((resolve) => {
      const worker = cluster.fork();
      let ready = false;
      workers.add(worker);
      // A message to a worker that is already going away fails with an 'error' event; its exit
      // is handled below, and an unhandled 'error' would take the primary down with it.
      worker.on('error', () => {});
      worker.on('message', (message: unknown) => {
        if ((message as ToPrimary | null)?.type !== 'certbound.ready') return;
        ready = true;
        readySet.add(worker);
        resolve({ worker, ready: message as ToPrimary });
      });
      worker.once('exit', (code, signal) => {
        workers.delete(worker);
        readySet.delete(worker);
        resolve({ exitCode: code ?? 1 });
        if (stopping) {
          if (workers.size === 0) finish();
          return;
        }
        // A worker that never became ready failed at start-up (it said why); start-up handles that.
        if (!ready) return;
        log({ type: 'worker.exited', pid: worker.process.pid, code, signal });
        setTimeout(() => {
          if (stopping) return;
          void fork().then((result) => {
            if ('worker' in result) log({ type: 'worker.restarted', pid: result.worker.process.pid });
            else if (workers.size === 0) finish(result.exitCode === 0 ? 1 : result.exitCode);
          });
        }, RESTART_DELAY_MS);
      });
    });

  let finish: (code?: number) => void = () => {};
  return new Promise((resolve) => {
    let exitCode = 0;
    finish = (code?: number) => {
      if (code !== undefined) exitCode = code;
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHangup);
      void (admin?.close() ?? Promise.resolve()).then(() => resolve(exitCode));
    };
    const stopAll = (): void => {
      for (const worker of workers) worker.send({ type: 'certbound.shutdown' } satisfies ToWorker);
      if (workers.size === 0) finish();
    };
    const onSignal = (): void => {
      signals++;
      stopping = true;
      // The first signal drains every worker; a second one makes each drop its connections now.
      stopAll();
      if (signals > 2) for (const worker of workers) worker.process.kill('SIGKILL');
    };
    const onHangup = (): void => {
      for (const worker of workers) worker.process.kill('SIGHUP');
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onHangup);

    void (async () => {
      const first = await fork();
      if (!('worker' in first)) {
        stopping = true;
        finish(first.exitCode === 0 ? 1 : first.exitCode);
        return;
      }
      const rest = await Promise.all(Array.from({ length: count - 1 }, () => fork()));
      const failed = rest.find((result) => !('worker' in result));
      if (failed !== undefined && !('worker' in failed)) {
        exitCode = failed.exitCode === 0 ? 1 : failed.exitCode;
        stopping = true;
        stopAll();
        return;
      }
      if (stopping) return;
      const { url, extra } = first.ready;
      const workersNote = `${count} workers`;
      const suffix = extra === '' ? ` (${workersNote})` : extra.replace(/\)$/, `, ${workersNote})`);
      process.stdout.write(`certbound ${name} listening on ${url}${suffix}\n`);
    })();
  });
}
