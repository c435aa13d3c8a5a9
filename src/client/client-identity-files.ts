import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as v from 'valibot';
import { callable, nonEmpty, optionsObject, parseOptions } from '../core/schema.js';
import { readText } from '../files/read.js';
import { createClientIdentity, type ClientIdentity, type ClientIdentityEvent, type ClientIdentityMaterial } from './client-identity.js';

/** Files written by cert-manager, SPIRE or Vault agents settle well within this after the first event. */
const DEFAULT_DEBOUNCE_MS = 200;

const CLIENT_IDENTITY_FILES = optionsObject(
  {
    cert: nonEmpty('must be a file path'),
    key: nonEmpty('must be a file path'),
    ca: v.optional(nonEmpty('must be a file path')),
    debounceMs: v.optional(v.pipe(v.number('must be >= 0'), v.finite('must be >= 0'), v.minValue(0, 'must be >= 0')), DEFAULT_DEBOUNCE_MS),
    onEvent: v.optional(callable<(event: ClientIdentityEvent) => void>('must be a function'), () => () => {}),
  },
  'client identity files must be an object naming cert and key',
);

export interface ClientIdentityFiles {
  /** The client certificate (chain) file, PEM. */
  cert: string;
  /** The private key file, PEM (a key in a PKCS#11 token: createClientIdentity and update()). */
  key: string;
  /** The CA bundle the servers must chain to; system CAs when absent. */
  ca?: string;
  /** Quiet time after the last change event before the files are read (default 200 ms). */
  debounceMs?: number;
  /** Told of each change and of each refused reading, with the reason. Never given key material. */
  onEvent?: (event: ClientIdentityEvent) => void;
}

/** A client identity that follows its files. */
export interface WatchedClientIdentity extends ClientIdentity {
  /**
   * Read the files now (as a change event would, without waiting): true when they gave a new
   * identity, false when they were unchanged or refused (the reason goes to onEvent).
   */
  reload(): Promise<boolean>;
}

/**
 * A client identity read from files and read again whenever they change. The directories holding
 * the files are watched, not the files, so that an atomic rename into place and the Kubernetes
 * `..data` symlink flip (Secret and projected volumes, cert-manager's CSI driver) are seen. A
 * reading that is unusable, such as a certificate whose key is not written yet, keeps the last good
 * identity and is reported as `identity.refused`; the next change event reads again.
 *
 * @example
 * const identity = await watchClientIdentity({ cert: '/etc/tls/tls.crt', key: '/etc/tls/tls.key', ca: '/etc/tls/ca.crt' });
 * const tokens = createTokenSource({ stsUrl, identity, subjectTokenFile, audience });
 * @throws FileProblem when the files cannot be read at first, ConfigError when they do not belong together.
 */
export async function watchClientIdentity(files: ClientIdentityFiles): Promise<WatchedClientIdentity> {
  const { debounceMs, onEvent } = parseOptions(CLIENT_IDENTITY_FILES, files);
  const identity = createClientIdentity(await readMaterial(files), { onEvent });

  let reading: Promise<boolean> | undefined;
  let again = false;
  const reload = async (): Promise<boolean> => {
    if (reading !== undefined) {
      // A change during a reading is read after it: the files may have moved on since.
      again = true;
      return reading;
    }
    reading = (async () => {
      let changed = false;
      do {
        again = false;
        const before = identity.current();
        let material: ClientIdentityMaterial | undefined;
        try {
          material = await readMaterial(files);
        } catch (error) {
          onEvent({
            type: 'identity.refused',
            reason: error instanceof Error ? error.message : String(error),
            keptThumbprint: before.thumbprint,
          });
        }
        try {
          if (material !== undefined) identity.update(material);
        } catch {
          // update() has reported the refusal and kept the last good identity.
        }
        changed ||= identity.current() !== before;
      } while (again);
      return changed;
    })().finally(() => {
      reading = undefined;
    });
    return reading;
  };

  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), debounceMs);
  };
  const directories = new Set([files.cert, files.key, ...(files.ca === undefined ? [] : [files.ca])].map((path) => dirname(resolve(path))));
  const watchers: FSWatcher[] = [];
  try {
    // Not persistent: following the files is no reason to keep the process alive.
    for (const directory of directories) watchers.push(watch(directory, { persistent: false }, schedule).on('error', () => schedule()));
  } catch (error) {
    for (const watcher of watchers) watcher.close();
    throw error;
  }
  return {
    ...identity,
    reload,
    async close() {
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
      await reading;
      await identity.close();
    },
  };
}

async function readMaterial(files: ClientIdentityFiles): Promise<ClientIdentityMaterial> {
  const [cert, key, ca] = await Promise.all([
    readText(files.cert, 'client certificate'),
    readText(files.key, 'client private key'),
    files.ca === undefined ? undefined : readText(files.ca, 'CA certificate'),
  ]);
  return { cert, key, ...(ca === undefined ? {} : { ca }) };
}
