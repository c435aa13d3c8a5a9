import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { planRotation, publishedKeysAt, secondsUntilNextChange, signingKeyAt, type ScheduledKey } from '../core/key-schedule.js';
import { isAsymmetricAlgorithm, type AsymmetricAlgorithm } from '../core/rfc.js';
import { createSigningKey, type Signer, type SigningKey } from '../core/signing/signer.js';
import { FileProblem, readPrivateKey } from '../files/read.js';
import { DEFAULTS } from '../defaults.js';
import { misuse } from '../core/config-error.js';
import { callable, optionsObject, parseOptions } from '../core/schema.js';
import * as v from 'valibot';

/** The index of a keystore directory; each key's PKCS#8 PEM sits next to it as `<kid>.key`. */
export const KEYSTORE_INDEX = 'keystore.json';

/** Defaults: DEFAULTS.keystore (src/defaults.ts), where the reasons are. */
export const KEYSTORE_DEFAULTS = DEFAULTS.keystore;

const POSITIVE_MS = 'must be a positive whole number of milliseconds';

/** Algorithms `certbound keys generate` can make keys for. */
export const GENERATED_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] as const;

export type KeystoreKey = ScheduledKey & { signingKey: SigningKey };

interface IndexEntry {
  kid: string;
  alg: AsymmetricAlgorithm;
  publish_at: number;
  activate_at: number;
  retire_at?: number;
  expire_at?: number;
}

/**
 * Read a keystore directory: the schedule from keystore.json and every key it lists (imported
 * once here, never per request).
 * @throws FileProblem naming the file and the problem.
 */
export async function readKeystore(dir: string): Promise<KeystoreKey[]> {
  const entries = await readIndex(dir);
  return Promise.all(
    entries.map(async (entry) => {
      const path = join(dir, `${entry.kid}.key`);
      const { key } = await readPrivateKey(path, 'signing key');
      let signingKey;
      try {
        signingKey = await createSigningKey({ privateKey: key, kid: entry.kid, alg: entry.alg });
      } catch (error) {
        throw new FileProblem(path, (error as Error).message);
      }
      return {
        kid: entry.kid,
        publishAt: entry.publish_at,
        activateAt: entry.activate_at,
        retireAt: entry.retire_at,
        expireAt: entry.expire_at,
        signingKey,
      };
    }),
  );
}

async function readIndex(dir: string): Promise<IndexEntry[]> {
  const file = join(dir, KEYSTORE_INDEX);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new FileProblem(file, `cannot read keystore index (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new FileProblem(file, 'not valid JSON');
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new FileProblem(file, 'must be {"keys": [...]}');
  return keys.map((raw, i) => {
    const entry = raw as Partial<IndexEntry> | null;
    const time = (value: unknown, name: string, optional = false): void => {
      if (optional && value === undefined) return;
      if (!Number.isInteger(value)) throw new FileProblem(file, `keys[${i}].${name}: must be seconds since the epoch`);
    };
    if (typeof entry?.kid !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(entry.kid))
      throw new FileProblem(file, `keys[${i}].kid: must be 1-128 characters of [A-Za-z0-9_-]`);
    if (!isAsymmetricAlgorithm(entry.alg)) throw new FileProblem(file, `keys[${i}].alg: must be an asymmetric JWS algorithm`);
    time(entry.publish_at, 'publish_at');
    time(entry.activate_at, 'activate_at');
    time(entry.retire_at, 'retire_at', true);
    time(entry.expire_at, 'expire_at', true);
    return entry as IndexEntry;
  });
}

async function writeIndex(dir: string, keys: readonly ScheduledKey[], algs: ReadonlyMap<string, AsymmetricAlgorithm>): Promise<void> {
  const entries: IndexEntry[] = keys.map((key) => ({
    kid: key.kid,
    alg: algs.get(key.kid) as AsymmetricAlgorithm,
    publish_at: key.publishAt,
    activate_at: key.activateAt,
    ...(key.retireAt === undefined ? {} : { retire_at: key.retireAt }),
    ...(key.expireAt === undefined ? {} : { expire_at: key.expireAt }),
  }));
  // Write then rename: a running STS never reads a half-written index.
  const temporary = join(dir, `.${KEYSTORE_INDEX}.${process.pid}`);
  await writeFile(temporary, `${JSON.stringify({ keys: entries }, null, 2)}\n`, { mode: 0o644 });
  await rename(temporary, join(dir, KEYSTORE_INDEX));
}

function generatePrivateKeyPem(alg: (typeof GENERATED_ALGORITHMS)[number]): string {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'ES384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : alg === 'EdDSA'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export interface KeyChangeOptions {
  alg?: (typeof GENERATED_ALGORITHMS)[number];
  /** Seconds since the epoch. */
  now: number;
  publishAheadSeconds?: number;
  maxTokenLifetimeSeconds?: number;
}

/**
 * Add a key. Into an empty keystore it is active at once (`generate`); otherwise it is a
 * rotation: published now, signing after `publishAheadSeconds`, the current key retired then and
 * kept published until its tokens have expired. Expired keys are removed, files included.
 * @returns the new key's schedule entry.
 */
export async function addKeystoreKey(dir: string, options: KeyChangeOptions): Promise<ScheduledKey & { alg: AsymmetricAlgorithm }> {
  const alg = options.alg ?? 'ES256';
  if (!(GENERATED_ALGORITHMS as readonly string[]).includes(alg)) throw misuse(`alg must be one of ${GENERATED_ALGORITHMS.join(', ')}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = await readIndex(dir);
  const algs = new Map(existing.map((entry) => [entry.kid, entry.alg]));
  const pem = generatePrivateKeyPem(alg);
  const signingKey = await createSigningKey({ privateKey: pem, alg });
  const schedule: ScheduledKey[] = existing.map((entry) => ({
    kid: entry.kid,
    publishAt: entry.publish_at,
    activateAt: entry.activate_at,
    retireAt: entry.retire_at,
    expireAt: entry.expire_at,
  }));
  let next: ScheduledKey[];
  let removed: ScheduledKey[] = [];
  if (signingKeyAt(schedule, options.now) === undefined && schedule.every((key) => key.activateAt <= options.now)) {
    next = [...schedule, { kid: signingKey.kid, publishAt: options.now, activateAt: options.now }];
  } else {
    const plan = planRotation(schedule, signingKey.kid, options.now, {
      publishAheadSeconds: options.publishAheadSeconds ?? KEYSTORE_DEFAULTS.publishAheadSeconds,
      maxTokenLifetimeSeconds: options.maxTokenLifetimeSeconds ?? KEYSTORE_DEFAULTS.maxTokenLifetimeSeconds,
    });
    next = plan.keys;
    removed = plan.removed;
  }
  algs.set(signingKey.kid, alg);
  await writeFile(join(dir, `${signingKey.kid}.key`), pem, { mode: 0o600 });
  await writeIndex(dir, next, algs);
  await Promise.all(removed.map((key) => rm(join(dir, `${key.kid}.key`), { force: true })));
  return { ...(next.find((key) => key.kid === signingKey.kid) as ScheduledKey), alg };
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
}

export interface KeystoreProvider extends SigningKeyProvider {
  /**
   * Re-read the keystore now (SIGHUP). A broken keystore keeps the last good one and reports
   * `keystore.reload_failed`. Resolves to whether the keystore was read.
   */
  reload(): Promise<boolean>;
  /** Told about every reload (periodic or SIGHUP); set it to log when another part opened the keystore. */
  onEvent: ((event: KeystoreEvent) => void) | undefined;
  close(): void;
}

const KEYSTORE_OPTIONS = optionsObject(
  {
    reloadIntervalMs: v.optional(
      v.pipe(v.number(POSITIVE_MS), v.integer(POSITIVE_MS), v.minValue(1, POSITIVE_MS)),
      KEYSTORE_DEFAULTS.reloadIntervalMs,
    ),
    onEvent: v.optional(callable<(event: KeystoreEvent) => void>('must be a function')),
  },
  'keystore options must be an object',
);

/**
 * A provider over a keystore directory, re-read when keystore.json changes (checked every
 * `reloadIntervalMs`) or on `reload()`. Keys are imported on load, not per request.
 * @throws FileProblem when the keystore cannot be read at start.
 */
export async function openKeystore(dir: string, options: KeystoreOptions = {}): Promise<KeystoreProvider> {
  const { reloadIntervalMs, onEvent } = parseOptions(KEYSTORE_OPTIONS, options);
  let keys = await readKeystore(dir);
  if (keys.length === 0)
    throw new FileProblem(join(dir, KEYSTORE_INDEX), 'the keystore has no keys: run certbound keys generate --dir DIR');
  let lastModified = await modifiedAt(dir);
  const reload = async (): Promise<boolean> => {
    try {
      // Remember the change even if it is broken: it is reported once, not every interval.
      lastModified = await modifiedAt(dir);
      const fresh = await readKeystore(dir);
      if (fresh.length === 0) throw new FileProblem(join(dir, KEYSTORE_INDEX), 'the keystore has no keys');
      keys = fresh;
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
    signingKey: (now) => signingKeyAt(keys, now)?.signingKey,
    publishedKeys: (now) => publishedKeysAt(keys, now).map((key) => key.signingKey.publicJwk),
    secondsUntilNextChange: (now) => secondsUntilNextChange(keys, now),
    reload,
    close: () => clearInterval(timer),
  };
  return provider;
}

async function modifiedAt(dir: string): Promise<number> {
  return (await stat(join(dir, KEYSTORE_INDEX))).mtimeMs;
}
