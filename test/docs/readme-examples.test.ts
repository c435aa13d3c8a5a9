import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO } from './doc-blocks.js';
import { createExampleProject } from './example-project.js';
import { runReadmeExamples } from './run-readme-examples.js';

// The README's library examples run as written against the built repository;
// scripts/check-package.mjs runs them against the installed tarball.
let project = '';

after(async () => {
  if (project !== '') await rm(project, { recursive: true, force: true });
});

test('README: the library examples run as written, STS, resource server, client and gRPC', async () => {
  project = await createExampleProject('certbound-readme-examples-');
  await runReadmeExamples(project, [process.execPath, join(REPO, 'dist', 'src', 'cli', 'main.js')]);
});
