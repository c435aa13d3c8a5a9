import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScheduledKey } from '../core/key-schedule.js';
import { isAsymmetricAlgorithm, type AsymmetricAlgorithm } from '../core/rfc.js';
import { isPkcs11Uri } from '../core/tls-key.js';
import { FileProblem } from '../files/read.js';

/** The index of a keystore directory; each key's PKCS#8 PEM sits next to it as `<kid>.key`, or in a token. */
export const KEYSTORE_INDEX = 'keystore.json';

/** One key of keystore.json: its schedule, and where the key is when not in `<kid>.key`. */
export interface IndexEntry {
  kid: string;
  alg: AsymmetricAlgorithm;
  publish_at: number;
  activate_at: number;
  retire_at?: number;
  expire_at?: number;
  /** The key is in a PKCS#11 token: its URI (never a PIN). */
  pkcs11?: string;
}

/** The schedule of index entries, as the key-schedule functions take it. */
export function scheduleOf(entries: readonly IndexEntry[]): ScheduledKey[] {
  return entries.map((entry) => ({
    kid: entry.kid,
    publishAt: entry.publish_at,
    activateAt: entry.activate_at,
    retireAt: entry.retire_at,
    expireAt: entry.expire_at,
  }));
}

export async function readIndex(dir: string): Promise<IndexEntry[]> {
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
    if (entry.pkcs11 !== undefined && (typeof entry.pkcs11 !== 'string' || !isPkcs11Uri(entry.pkcs11)))
      throw new FileProblem(file, `keys[${i}].pkcs11: must be a pkcs11: URI`);
    return entry as IndexEntry;
  });
}

export async function writeIndex(
  dir: string,
  keys: readonly ScheduledKey[],
  about: ReadonlyMap<string, { alg: AsymmetricAlgorithm; pkcs11?: string | undefined }>,
): Promise<void> {
  const entries: IndexEntry[] = keys.map((key) => {
    const { alg, pkcs11 } = about.get(key.kid) as { alg: AsymmetricAlgorithm; pkcs11?: string };
    return {
      kid: key.kid,
      alg,
      publish_at: key.publishAt,
      activate_at: key.activateAt,
      ...(key.retireAt === undefined ? {} : { retire_at: key.retireAt }),
      ...(key.expireAt === undefined ? {} : { expire_at: key.expireAt }),
      ...(pkcs11 === undefined ? {} : { pkcs11 }),
    };
  });
  // Write then rename: a running STS never reads a half-written index.
  const temporary = join(dir, `.${KEYSTORE_INDEX}.${process.pid}`);
  await writeFile(temporary, `${JSON.stringify({ keys: entries }, null, 2)}\n`, { mode: 0o644 });
  await rename(temporary, join(dir, KEYSTORE_INDEX));
}
