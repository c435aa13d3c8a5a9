import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A directory laid out as the kubelet writes a Secret volume, rewritten the way it does. */
export interface SecretVolume {
  /** The path a pod reads: `<dir>/<name>`, a symlink to `..data/<name>`. */
  path(name: string): string;
  /**
   * Replace every file at once, as Kubernetes' AtomicWriter does: write a new timestamped
   * directory, point `..data_tmp` at it, rename that over `..data`, remove the old directory.
   */
  rotate(files: Record<string, string>): Promise<void>;
}

/** A Secret volume holding `files`, removed with the test. */
export async function createSecretVolume(t: { after(fn: () => unknown): void }, files: Record<string, string>): Promise<SecretVolume> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-secret-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let generation = 0;
  let current: string | undefined;
  const rotate = async (next: Record<string, string>): Promise<void> => {
    const data = `..2026_12_02_00_00_${String(++generation).padStart(2, '0')}.${process.pid}`;
    await mkdir(join(dir, data), { mode: 0o700 });
    for (const [name, text] of Object.entries(next)) await writeFile(join(dir, data, name), text, { mode: 0o600 });
    await symlink(data, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    if (current !== undefined) await rm(join(dir, current), { recursive: true, force: true });
    current = data;
  };
  await rotate(files);
  for (const name of Object.keys(files)) await symlink(join('..data', name), join(dir, name));
  return { path: (name) => join(dir, name), rotate };
}
