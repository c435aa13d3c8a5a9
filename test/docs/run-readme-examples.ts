// Runs the README's library examples as a user runs them: in a project where certbound is
// installed and `certbound pki init --out certs` wrote the dev PKI, the STS first, then the
// resource server, then the client, then the gRPC example. Only their fixed ports are pointed at
// free ones. Used by readme-examples.test.ts (the built repository) and
// scripts/check-package.mjs (the installed tarball). Not a test file itself.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import ts from 'typescript';
import { docBlocks } from './doc-blocks.js';
import { whenever } from '../helpers/wait.js';
import { freePorts } from '../helpers/ports.js';

const READY_MS = 20_000;
const children: ChildProcess[] = [];
let project = '';

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

/**
 * Run the four examples in `project`; `certbound` is the command line that runs the CLI there
 * (its first word the program). Throws an AssertionError saying what differed; every process
 * it started is gone when it returns.
 */
export async function runReadmeExamples(where: string, certbound: readonly string[]): Promise<void> {
  project = where;
  try {
    const [program = '', ...args] = certbound;
    const init = spawnSync(program, [...args, 'pki', 'init', '--out', 'certs'], { cwd: project, encoding: 'utf8' });
    assert.equal(init.status, 0, init.stderr);
    const [stsPort = 0, apiPort = 0, grpcPort = 0] = await freePorts(3);
    const ports = new Map([
      [8081, stsPort],
      [8443, apiPort],
      [50051, grpcPort],
    ]);

    const sts = await start('readme-sts', ports);
    await untilPrinted(sts, new RegExp(`STS listening on https://127\\.0\\.0\\.1:${ports.get(8081)}/`), 'the STS example');
    const resource = await start('readme-resource', ports);
    await untilPrinted(resource, /resource server listening on/, 'the resource server example');

    const client = await start('readme-client', ports);
    assert.equal(await exitCode(client), 0, client.stderr());
    assert.equal(client.stdout(), '200 hello alice (scopes: read)\n', 'the client example prints the answer');
    // The STS example logs one event per token request, never the token.
    assert.match(sts.stderr(), /"type":"token\.issued"/);
    assert.doesNotMatch(sts.stderr(), /eyJ/);

    const grpc = await start('readme-grpc', ports);
    assert.equal(await exitCode(grpc), 0, grpc.stderr());
    assert.equal(grpc.stdout(), 'hello alice\n', 'the gRPC example prints the answer');
  } finally {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  }
}
