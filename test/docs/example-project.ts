// A new ESM project in a temp folder whose `certbound` is this repository's built package, as a
// user's project is after `npm install certbound`: where the documentation examples are pasted.
import { mkdtemp, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './doc-blocks.js';

export async function createExampleProject(prefix: string): Promise<string> {
  const project = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'doc-examples', type: 'module', private: true }));
  // Its node_modules: the repository's dependencies (the optional peers included), and certbound.
  await mkdir(join(project, 'node_modules'));
  for (const name of await readdir(join(REPO, 'node_modules'))) {
    if (name !== '.bin' && name !== '.package-lock.json')
      await symlink(join(REPO, 'node_modules', name), join(project, 'node_modules', name));
  }
  await symlink(REPO, join(project, 'node_modules', 'certbound'));
  return project;
}
