import { access, chmod, mkdir, open, readdir } from 'node:fs/promises';
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

/** What {@link writeGitIgnore} did: wrote DIR/.gitignore, kept the one there, or wrote none. */
export type GitIgnoreOutcome = { kind: 'written'; path: string } | { kind: 'kept'; path: string } | { kind: 'shared'; others: string[] };

/**
 * Write `.gitignore` containing `*` into a PKI folder, so that git ignores the whole folder (its
 * private keys, and that .gitignore too) wherever the folder is made, even inside a repository.
 * An existing .gitignore is the owner's and is left as it is. A folder that holds anything besides
 * the PKI's own files (`own`) gets none: `*` there would hide the owner's files (`--out .` at a
 * repository's root would hide the whole repository).
 */
export async function writeGitIgnore(dir: string, own: readonly string[]): Promise<GitIgnoreOutcome> {
  const path = join(dir, '.gitignore');
  const ours = new Set([...own, '.gitignore']);
  const others = (await readdir(dir)).filter((name) => !ours.has(name)).sort();
  if (others.length > 0 && !(await exists(path))) return { kind: 'shared', others };
  let handle;
  try {
    handle = await open(path, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { kind: 'kept', path };
    throw new FileProblem(path, `cannot write (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
  try {
    await handle.writeFile('# Written by certbound pki init: this folder holds private keys; git ignores all of it.\n*\n');
  } finally {
    await handle.close();
  }
  return { kind: 'written', path };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
