import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, test } from 'node:test';
import ts from 'typescript';
import { docBlocks, REPO } from './doc-blocks.js';
import { createExampleProject } from './example-project.js';
import { whenever } from '../helpers/wait.js';

// The README's library examples, run as a user runs them: in a new project where
// `certbound pki init --out certs` wrote the dev PKI, the STS first, then the resource server,
// then the client, then the gRPC example. Only their fixed ports are pointed at free ones.
// examples.test.ts type-checks them; here TypeScript only strips the types.
const CLI = join(REPO, 'dist', 'src', 'cli', 'main.js');
const READY_MS = 20_000;
const children: ChildProcess[] = [];
let project = '';

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (project !== '') await rm(project, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** The README block marked `<!-- example: run NAME -->`, as JavaScript with its ports replaced. */
function example(name: string, ports: ReadonlyMap<number, number>): string {
  const block = docBlocks().find((candidate) => candidate.file === 'README.md' && candidate.marker.join(' ') === `run ${name}`);
  assert.ok(block !== undefined, `README.md has no block marked <!-- example: run ${name} -->`);
  let code = block.code;
  for (const [documented, free] of ports) {
    // Only where a port is listened on or connected to: audiences such as https://server.domain.com:8443 stay.
    code = code.replace(new RegExp(`(127\\.0\\.0\\.1:|listen\\()${documented}\\b`, 'g'), `$1${free}`);
  }
  return ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
}

async function start(name: string, ports: ReadonlyMap<number, number>): Promise<Run> {
  const file = join(project, `${name}.mjs`);
  await writeFile(file, example(name, ports));
  const child = spawn(process.execPath, [file], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, stdout: () => stdout, stderr: () => stderr };
}

function untilPrinted(run: Run, pattern: RegExp, what: string): Promise<void> {
  return whenever(run.child.stdout as Readable, 'data', () => pattern.test(run.stdout()), what, {
    timeoutMs: READY_MS,
    failOn: ['end'],
    context: () => `stdout: ${run.stdout()}\nstderr: ${run.stderr()}`,
  });
}

async function exitCode(run: Run): Promise<number | null> {
  if (run.child.exitCode === null) await once(run.child, 'exit');
  return run.child.exitCode;
}

test('README: the library examples run as written, STS, resource server, client and gRPC', async () => {
  project = await createExampleProject('certbound-readme-examples-');
  const init = spawnSync(process.execPath, [CLI, 'pki', 'init', '--out', 'certs'], { cwd: project, encoding: 'utf8' });
  assert.equal(init.status, 0, init.stderr);
  const ports = new Map([
    [8081, await freePort()],
    [8443, await freePort()],
    [50051, await freePort()],
  ]);

  const sts = await start('readme-sts', ports);
  await untilPrinted(sts, new RegExp(`STS listening on https://127\\.0\\.0\\.1:${ports.get(8081)}/`), 'the STS example');
  const resource = await start('readme-resource', ports);
  await untilPrinted(resource, /resource server listening on/, 'the resource server example');

  const client = await start('readme-client', ports);
  assert.equal(await exitCode(client), 0, client.stderr());
  assert.equal(client.stdout(), '200 hello alice (scopes: read)\n');
  // The STS example logs one event per token request, never the token.
  assert.match(sts.stderr(), /"type":"token\.issued"/);
  assert.doesNotMatch(sts.stderr(), /eyJ/);

  const grpc = await start('readme-grpc', ports);
  assert.equal(await exitCode(grpc), 0, grpc.stderr());
  assert.equal(grpc.stdout(), 'hello alice\n');
});
