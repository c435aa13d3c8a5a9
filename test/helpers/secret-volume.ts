// A directory laid out and updated as the kubelet does a secret (or configmap) volume
// (kubernetes pkg/volume/util/atomic_writer.go): every file is a symlink `name -> ..data/name`,
// `..data` is a symlink to a timestamped directory holding the real files, and an update writes
// a new timestamped directory, points a `..data_tmp` symlink at it, renames that over `..data`
// (the one atomic step), then removes the old directory. No signal is sent to anyone.
import { mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let generation = 0;

/** `..2026_12_02_14_35_01.000000001`-like, unique within the test process. */
function timestampedName(): string {
  generation += 1;
  const stamp = new Date().toISOString().replace(/[-T:]/g, '_').replace(/\..*$/, '');
  return `..${stamp}.${String(generation).padStart(9, '0')}`;
}

async function writePayload(dir: string, files: Readonly<Record<string, string>>): Promise<string> {
  const name = timestampedName();
  await mkdir(join(dir, name), { mode: 0o755 });
  await Promise.all(Object.entries(files).map(([file, content]) => writeFile(join(dir, name, file), content, { mode: 0o600 })));
  return name;
}

/** Create `dir` as a secret volume holding `files` (name → content); the paths to give a server are `dir/name`. */
export async function createSecretVolume(dir: string, files: Readonly<Record<string, string>>): Promise<void> {
  await mkdir(dir, { recursive: true });
  await symlink(await writePayload(dir, files), join(dir, '..data'));
  await Promise.all(Object.keys(files).map((file) => symlink(join('..data', file), join(dir, file))));
}

/** Replace every file of the volume at once, as a secret update does: the `..data` symlink flip. */
export async function updateSecretVolume(dir: string, files: Readonly<Record<string, string>>): Promise<void> {
  const previous = await readlink(join(dir, '..data'));
  const next = await writePayload(dir, files);
  await symlink(next, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  await rm(join(dir, previous), { recursive: true, force: true });
}

/** A secret volume as a test uses it: the paths to read, and an update. */
export interface SecretVolume {
  /** The path a pod reads: `<dir>/<name>`, a symlink to `..data/<name>`. */
  path(name: string): string;
  /** Replace every file at once (updateSecretVolume). */
  rotate(files: Readonly<Record<string, string>>): Promise<void>;
}

/** A secret volume holding `files` in a temporary directory removed with the test. */
export async function temporarySecretVolume(
  t: { after(fn: () => unknown): void },
  files: Readonly<Record<string, string>>,
): Promise<SecretVolume> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-secret-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await createSecretVolume(dir, files);
  return { path: (name) => join(dir, name), rotate: (next) => updateSecretVolume(dir, next) };
}
