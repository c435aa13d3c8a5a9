import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { compileExamples, typeScriptBlocks } from './compile-examples.js';
import { REPO } from './doc-blocks.js';
import { createExampleProject } from './example-project.js';

// Every TypeScript example in README.md and docs/ compiles in a new project whose certbound is
// this repository's built package. scripts/check-package.mjs does the same against the tarball.
let project = '';

after(async () => {
  if (project !== '') await rm(project, { recursive: true, force: true });
});

test('docs: every TypeScript example compiles under strict + nodenext against the built package', async () => {
  assert.ok(typeScriptBlocks().length >= 20, `found ${typeScriptBlocks().length} ts blocks`);
  project = await createExampleProject('certbound-doc-examples-');
  const failures = await compileExamples(project, join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'));
  assert.ok(failures.length === 0, `documentation examples that do not compile:\n${failures.join('\n')}`);
});
