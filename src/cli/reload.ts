import { ConfigError } from '../core/config-error.js';
import { isPkcs11Uri } from '../core/tls-key.js';
import { DEFAULTS } from '../defaults.js';
import { watchFiles, type FileWatch } from '../files/watch.js';
import { UsageError } from './errors.js';

/** What started a reload: SIGHUP, or a change to a followed file (docs/file-watching.md). */
export type ReloadTrigger = 'signal' | 'file';

/** One thing a server re-reads: its name in the log, and how. A failure keeps the old state. */
export interface Reloadable {
  name: string;
  /** Re-read it; throw (naming the file and what is wrong with it) to keep the old state. */
  reload(trigger: ReloadTrigger): Promise<void>;
  /** The files it reads, followed on disk (`pkcs11:` URIs are not files); none: SIGHUP only (a JWKS URL). */
  files?: readonly string[];
  /** It logs its own outcome (the keystore, which also reloads by itself): only call it. */
  reportsItself?: boolean;
}

/** Until `close()`: SIGHUP and changes to followed files reload. */
export interface Reloading {
  close(): void;
}

/**
 * Reload every reloadable on SIGHUP and, unless `watchDebounceMs` is 0, those whose files
 * changed (gathered for `watchDebounceMs` after the first event). One reload at a time: each
 * waits for the one under way, so an older read never replaces a newer one, and signals that
 * arrive during a reload queue behind it. Each logs `<name>.reloaded` or `<name>.reload_failed`
 * (with the reason: a file name and what is wrong with it, never its content), with the
 * `trigger` and, for a change, the `files` that changed. Neither ever stops the server.
 * @throws UsageError when a directory of a followed file cannot be watched at start.
 */
export async function reloadOnChange(
  log: (event: object) => void,
  reloadables: readonly Reloadable[],
  watchDebounceMs: number = DEFAULTS.server.watchDebounceMs,
): Promise<Reloading> {
  let queue = Promise.resolve();
  const reload = (trigger: ReloadTrigger, items: readonly Reloadable[], changed: readonly string[] = []): void => {
    queue = queue.then(async () => {
      for (const item of items) {
        const files = trigger === 'file' ? { files: changed.filter((file) => item.files?.includes(file) === true) } : {};
        try {
          await item.reload(trigger);
          if (item.reportsItself !== true) log({ type: `${item.name}.reloaded`, trigger, ...files });
        } catch (error) {
          log({ type: `${item.name}.reload_failed`, detail: (error as Error).message, trigger, ...files });
        }
      }
    });
  };
  const onHangup = (): void => reload('signal', reloadables);
  const followed = reloadables.flatMap((item) => (item.files ?? []).filter((file) => !isPkcs11Uri(file)));
  let watch: FileWatch | undefined;
  if (watchDebounceMs > 0 && followed.length > 0) {
    const onChange = (changed: string[]): void =>
      reload(
        'file',
        reloadables.filter((item) => item.files?.some((file) => changed.includes(file))),
        changed,
      );
    try {
      watch = await watchFiles(followed, onChange, {
        debounceMs: watchDebounceMs,
        onError: (problem) => log({ type: 'watch.failed', detail: problem.message }),
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new UsageError(`${error.message}: --watch-debounce-ms 0 turns watching off (SIGHUP still reloads)${inotifyHint(error)}`);
    }
  }
  process.on('SIGHUP', onHangup);
  return {
    close: () => {
      process.off('SIGHUP', onHangup);
      watch?.close();
    },
  };
}

const inotifyHint = (error: Error): string =>
  error.message.includes('ENOSPC') ? ', or raise the inotify limit (sysctl fs.inotify.max_user_watches)' : '';
