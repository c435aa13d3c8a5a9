import { access, chmod, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { PlannedFile } from './dev-pki.js';
import { FileProblem } from '../core/config-error.js';

/**
 * Write planned files into `dir` (created 0700 if missing). Refuses to overwrite an existing file
 * unless `force`: a PKI silently replaced under a running server is worse than an error.
 * Private keys are created with mode 0600 from the start, never chmod-ed after the fact.
 */
export async function writePlannedFiles(
  dir: string,
  files: Record<string, PlannedFile>,
  options: { force?: boolean } = {},
): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (options.force !== true) {
    // Check every name first, so a refusal leaves the directory as it was.
    for (const name of Object.keys(files)) {
      const path = join(dir, name);
      if (await exists(path)) throw new FileProblem(path, 'already exists (use --force to overwrite)');
    }
  }
  const written: string[] = [];
  for (const [name, file] of Object.entries(files)) {
    const path = join(dir, name);
    let handle;
    try {
      handle = await open(path, options.force === true ? 'w' : 'wx', file.mode);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST')
        throw new FileProblem(path, 'already exists (use --force to overwrite)', { cause: error });
      throw new FileProblem(path, `cannot write (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
    try {
      await handle.writeFile(file.content);
    } finally {
      await handle.close();
    }
    await chmod(path, file.mode); // an overwritten file keeps its old mode otherwise
    written.push(path);
  }
  return written;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
