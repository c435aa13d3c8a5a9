import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, readlink, realpath } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { FileProblem } from './read.js';

/** How changes to followed files are gathered and reported. */
export interface FileWatchOptions {
  /**
   * After the first event, gather further events for this long (ms) before comparing the files:
   * the several renames of one update lead to one comparison. Later events never push the
   * comparison back, so a directory that never goes quiet cannot starve it.
   */
  debounceMs: number;
  /** A directory could not be watched again after a change; start-up failures throw instead. */
  onError?: (problem: FileProblem) => void;
}

export interface FileWatch {
  /** Stop watching; a pending comparison is dropped. */
  close(): void;
}

/** Symlinks followed from one file at most (Linux's own limit is 40). */
const MAX_HOPS = 32;

/**
 * Follow files on disk and call `onChange` with those whose content changed. The watch is on
 * the directories that hold each file and each symlink on the way to it, never on the file
 * itself: a watch on a file is lost when the file is replaced by a rename, and a Kubernetes
 * secret volume updates by renaming a `..data` symlink (`tls.crt -> ..data/tls.crt`,
 * `..data -> ..2026_12_02_...`). Any event in those directories leads to a comparison of every
 * followed file's SHA-256 with the last one seen, so unrelated files in the same directory
 * cause no reload, and a file that is missing or unreadable counts as a change (the reload then
 * says why it failed). The directories are worked out again after every comparison, as a symlink
 * flip moves a file to another one. Watchers and timers never keep the process alive.
 * @throws FileProblem naming a directory that cannot be watched at start (e.g. ENOSPC: the
 *   inotify watches are used up).
 */
export async function watchFiles(
  files: readonly string[],
  onChange: (changed: string[]) => void,
  options: FileWatchOptions,
): Promise<FileWatch> {
  const paths = [...new Set(files)];
  const seen = new Map<string, string>();
  for (const path of paths) seen.set(path, await fingerprintOf(path));
  const watchers = new Map<string, FSWatcher>();
  const reported = new Set<string>();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let comparing = false;
  let again = false;

  const schedule = (): void => {
    if (closed || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void compare();
    }, options.debounceMs);
    timer.unref();
  };

  const arm = async (atStart: boolean): Promise<void> => {
    const wanted = new Set((await Promise.all(paths.map(directoriesOf))).flat());
    if (closed) return;
    for (const [dir, watcher] of watchers) {
      if (wanted.has(dir)) continue;
      watcher.close();
      watchers.delete(dir);
    }
    for (const dir of wanted) {
      if (watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: false }, schedule);
        // The directory went away (the old `..2026_...` of a secret volume): look again.
        watcher.on('error', () => {
          watcher.close();
          if (watchers.get(dir) === watcher) watchers.delete(dir);
          schedule();
        });
        watchers.set(dir, watcher);
        reported.delete(dir);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        // Gone between finding it and watching it: it is no longer on any file's way.
        if (code === 'ENOENT' && !atStart) continue;
        const problem = new FileProblem(dir, `cannot watch for changes (${code})`);
        if (atStart) throw problem;
        if (!reported.has(dir)) options.onError?.(problem);
        reported.add(dir);
      }
    }
  };

  const compare = async (): Promise<void> => {
    if (comparing) {
      again = true;
      return;
    }
    comparing = true;
    try {
      const changed: string[] = [];
      for (const path of paths) {
        const fingerprint = await fingerprintOf(path);
        if (fingerprint === seen.get(path)) continue;
        seen.set(path, fingerprint);
        changed.push(path);
      }
      await arm(false);
      if (changed.length > 0 && !closed) onChange(changed);
    } finally {
      comparing = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };

  const close = (): void => {
    closed = true;
    clearTimeout(timer);
    for (const watcher of watchers.values()) watcher.close();
    watchers.clear();
  };
  try {
    await arm(true);
  } catch (error) {
    close();
    throw error;
  }
  return { close };
}

/** The directories holding `path` and every symlink on the way to it, each by its real path. */
async function directoriesOf(path: string): Promise<string[]> {
  const directories: string[] = [];
  let current = resolve(path);
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const directory = await realpath(dirname(current)).catch(() => undefined);
    if (directory !== undefined) directories.push(directory);
    const target = await readlink(current).catch(() => undefined);
    if (target === undefined) break; // not a symlink (or gone): the end of the way
    current = resolve(dirname(current), target);
  }
  return directories;
}

/** What a file holds now, as a digest (content never leaves this function), or why it cannot be read. */
async function fingerprintOf(path: string): Promise<string> {
  try {
    return createHash('sha256')
      .update(await readFile(path))
      .digest('base64');
  } catch (error) {
    return `unreadable (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}
