import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { publishedKeysAt, secondsUntilNextChange, signingKeyAt, type ScheduledKey } from '../core/key-schedule.js';
import { createSigningKey, type Signer } from '../core/signing/signer.js';
import { FileProblem, readPrivateKey } from '../files/read.js';
import { DEFAULTS } from '../defaults.js';
import { callable, optionsObject, parseOptions } from '../core/schema.js';
import * as v from 'valibot';
import { KEYSTORE_INDEX, readIndex, type IndexEntry } from './keystore-index.js';
import { openPkcs11Signer, type Pkcs11Signer } from './pkcs11-signer.js';

export { KEYSTORE_INDEX } from './keystore-index.js';
export { addKeystoreKey, GENERATED_ALGORITHMS, TOKEN_ALGORITHMS, type KeyChangeOptions } from './keystore-add.js';

/** Defaults: DEFAULTS.keystore (src/defaults.ts), where the reasons are. */
export const KEYSTORE_DEFAULTS = DEFAULTS.keystore;

const POSITIVE_MS = 'must be a positive whole number of milliseconds';

export type KeystoreKey = ScheduledKey & { signingKey: Signer };

/** How to reach keys the keystore holds in a PKCS#11 token (else PKCS11_MODULE_PATH, CERTBOUND_PKCS11_PIN). */
export interface KeystoreTokenAccess {
  module?: string;
  pin?: string;
  /** As `openPkcs11Signer`'s: default on for TPM modules only. */
  verifyEachSignature?: boolean;
}

/**
 * Read a keystore directory: the schedule from keystore.json and every key it lists (imported
 * once here, never per request; a key in a token opened once and kept in `opened` across reads).
 * @throws FileProblem naming the file and the problem; ConfigError for a token that cannot be reached.
 */
export async function readKeystore(
  dir: string,
  token: KeystoreTokenAccess = {},
  opened: Map<string, Pkcs11Signer> = new Map(),
): Promise<KeystoreKey[]> {
  const entries = await readIndex(dir);
  return Promise.all(
    entries.map(async (entry) => ({
      kid: entry.kid,
      publishAt: entry.publish_at,
      activateAt: entry.activate_at,
      retireAt: entry.retire_at,
      expireAt: entry.expire_at,
      signingKey: entry.pkcs11 === undefined ? await keyFromFile(dir, entry) : await keyInToken(dir, entry, token, opened),
    })),
  );
}

async function keyFromFile(dir: string, entry: IndexEntry): Promise<Signer> {
  const path = join(dir, `${entry.kid}.key`);
  const { key } = await readPrivateKey(path, 'signing key');
  try {
    return await createSigningKey({ privateKey: key, kid: entry.kid, alg: entry.alg });
  } catch (error) {
    throw new FileProblem(path, (error as Error).message);
  }
}

async function keyInToken(dir: string, entry: IndexEntry, token: KeystoreTokenAccess, opened: Map<string, Pkcs11Signer>): Promise<Signer> {
  const known = opened.get(entry.kid);
  if (known !== undefined) return known;
  const signer = await openPkcs11Signer({
    uri: entry.pkcs11 as string,
    kid: entry.kid,
    ...(token.module === undefined ? {} : { module: token.module }),
    ...(token.pin === undefined ? {} : { pin: token.pin }),
    ...(token.verifyEachSignature === undefined ? {} : { verifyEachSignature: token.verifyEachSignature }),
  });
  if (signer.alg !== entry.alg) {
    signer.close();
    throw new FileProblem(join(dir, KEYSTORE_INDEX), `key ${entry.kid}: the key in the token signs ${signer.alg}, not ${entry.alg}`);
  }
  opened.set(entry.kid, signer);
  return signer;
}

/** What the STS needs from its keys at a given moment. */
export interface SigningKeyProvider {
  /** The key that signs now; undefined if the schedule has none active. */
  signingKey(now: number): Signer | undefined;
  /** The public JWKs to publish now. */
  publishedKeys(now: number): JWK[];
  /** Seconds until the published set or the signer changes (undefined: never). */
  secondsUntilNextChange(now: number): number | undefined;
}

/** One fixed key: always signing, always published. */
export function staticKeyProvider(key: Signer): SigningKeyProvider {
  return { signingKey: () => key, publishedKeys: () => [key.publicJwk], secondsUntilNextChange: () => undefined };
}

/** What a keystore reports about its reloads (periodic or SIGHUP), through `onEvent`. */
export type KeystoreEvent =
  | { type: 'keystore.reloaded'; keys: number }
  /** The keystore on disk is broken; the last good keys stay in use. */
  | { type: 'keystore.reload_failed'; error: Error };

export interface KeystoreOptions {
  /** How often keystore.json is checked for a change (ms). */
  reloadIntervalMs?: number;
  onEvent?: (event: KeystoreEvent) => void;
  /** The module and PIN for keys the keystore holds in a PKCS#11 token (`keys generate --pkcs11`). */
  pkcs11?: KeystoreTokenAccess;
}

export interface KeystoreProvider extends SigningKeyProvider {
  /**
   * Re-read the keystore now (SIGHUP). A broken keystore keeps the last good one and reports
   * `keystore.reload_failed`. Resolves to whether the keystore was read.
   */
  reload(): Promise<boolean>;
  /** Told about every reload (periodic or SIGHUP); set it to log when another part opened the keystore. */
  onEvent: ((event: KeystoreEvent) => void) | undefined;
  /** Its keystore.json, whose change leads to a reload (a key file is written before the index names it). */
  readonly indexFile: string;
  close(): void;
}

const KEYSTORE_OPTIONS = optionsObject(
  {
    reloadIntervalMs: v.optional(
      v.pipe(v.number(POSITIVE_MS), v.integer(POSITIVE_MS), v.minValue(1, POSITIVE_MS)),
      KEYSTORE_DEFAULTS.reloadIntervalMs,
    ),
    onEvent: v.optional(callable<(event: KeystoreEvent) => void>('must be a function')),
    pkcs11: v.optional(
      optionsObject(
        {
          module: v.optional(v.pipe(v.string(), v.minLength(1))),
          pin: v.optional(v.pipe(v.string(), v.minLength(1))),
          verifyEachSignature: v.optional(v.boolean()),
        },
        'must be { module?, pin?, verifyEachSignature? }',
      ),
    ),
  },
  'keystore options must be an object',
);

/**
 * A provider over a keystore directory, re-read when keystore.json changes (checked every
 * `reloadIntervalMs`) or on `reload()`. Keys are imported on load, not per request.
 * @throws FileProblem when the keystore cannot be read at start.
 */
export async function openKeystore(dir: string, options: KeystoreOptions = {}): Promise<KeystoreProvider> {
  const { reloadIntervalMs, onEvent, pkcs11 } = parseOptions(KEYSTORE_OPTIONS, options);
  const token: KeystoreTokenAccess = pkcs11 ?? {};
  // Keys in a token stay open across reloads; one dropped from the keystore is closed.
  const opened = new Map<string, Pkcs11Signer>();
  const closeDropped = (current: readonly KeystoreKey[]): void => {
    const kept = new Set(current.map((key) => key.kid));
    for (const [kid, signer] of opened) {
      if (kept.has(kid)) continue;
      signer.close();
      opened.delete(kid);
    }
  };
  let keys = await readKeystore(dir, token, opened);
  if (keys.length === 0)
    throw new FileProblem(join(dir, KEYSTORE_INDEX), 'the keystore has no keys: run certbound keys generate --dir DIR');
  let lastModified = await modifiedAt(dir);
  const reload = async (): Promise<boolean> => {
    try {
      // Remember the change even if it is broken: it is reported once, not every interval.
      lastModified = await modifiedAt(dir);
      const fresh = await readKeystore(dir, token, opened);
      if (fresh.length === 0) throw new FileProblem(join(dir, KEYSTORE_INDEX), 'the keystore has no keys');
      keys = fresh;
      closeDropped(keys);
      provider.onEvent?.({ type: 'keystore.reloaded', keys: keys.length });
      return true;
    } catch (error) {
      provider.onEvent?.({ type: 'keystore.reload_failed', error: error as Error });
      return false;
    }
  };
  const timer = setInterval(() => {
    void modifiedAt(dir).then(
      (modified) => (modified !== lastModified ? reload() : undefined),
      () => {},
    );
  }, reloadIntervalMs);
  timer.unref();
  const provider: KeystoreProvider = {
    onEvent,
    indexFile: join(dir, KEYSTORE_INDEX),
    signingKey: (now) => signingKeyAt(keys, now)?.signingKey,
    publishedKeys: (now) => publishedKeysAt(keys, now).map((key) => key.signingKey.publicJwk),
    secondsUntilNextChange: (now) => secondsUntilNextChange(keys, now),
    reload,
    close: () => {
      clearInterval(timer);
      closeDropped([]);
    },
  };
  return provider;
}

async function modifiedAt(dir: string): Promise<number> {
  return (await stat(join(dir, KEYSTORE_INDEX))).mtimeMs;
}
