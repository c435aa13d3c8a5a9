import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { docBlocks, REPO } from './doc-blocks.js';
import { freePorts } from '../helpers/ports.js';

// The shell walk-throughs of the documentation, pasted into one shell as a reader would, in a new
// folder with `certbound` on the PATH. Only the ports the servers listen on and are reached at are
// pointed at free ones; the issuer and the audiences keep their documented ports (they are names).
const CLI = join(REPO, 'dist', 'src', 'cli', 'main.js');
const shells: ChildProcess[] = [];
const dirs: string[] = [];

after(async () => {
  // The servers a block started with & are in its shell's process group.
  for (const shell of shells) {
    try {
      if (shell.pid !== undefined) process.kill(-shell.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** The block of `file` marked `<!-- example: run NAME -->`. */
function block(file: string, name: string): string {
  const found = docBlocks().find((candidate) => candidate.file === file && candidate.marker.join(' ') === `run ${name}`);
  assert.ok(found !== undefined, `${file} has no sh block marked <!-- example: run ${name} -->`);
  assert.equal(found.lang, 'sh');
  return found.code;
}

interface ShellRun {
  dir: string;
  code: number | null;
  stdout: string;
  stderr: string;
  /** Each block's stdout lines, by name. */
  sections: Record<string, string[]>;
  /** For assertion messages. */
  context: string;
}

/** Run the named blocks of `file`, in order, in one bash, in a new folder. */
async function runBlocks(file: string, names: readonly string[]): Promise<ShellRun> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-shell-example-'));
  dirs.push(dir);
  // `certbound` as an installed package (or the README's alias) provides it.
  await mkdir(join(dir, 'bin'));
  await writeFile(join(dir, 'bin', 'certbound'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  await chmod(join(dir, 'bin', 'certbound'), 0o755);
  let script = names.map((name) => `echo "=== ${name}"\n${block(file, name)}`).join('');
  const documentedPorts = [8081, 8443, 50051];
  const free = await freePorts(documentedPorts.length);
  for (const [index, documented] of documentedPorts.entries()) {
    script = script.replace(new RegExp(`(--port |127\\.0\\.0\\.1:|^(?:STS|API)=[\\w.]+:)${documented}\\b`, 'gm'), `$1${free[index]}`);
  }
  assert.doesNotMatch(script, /\bsleep\b/, 'a block waits for its servers with certbound wait, not sleep');
  const shell = spawn('bash', ['-c', script], {
    cwd: dir,
    detached: true,
    env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  shells.push(shell);
  let stdout = '';
  let stderr = '';
  shell.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  shell.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(shell, 'exit')) as [number | null];
  const sections = Object.fromEntries(
    stdout
      .split(/^=== /m)
      .slice(1)
      .map((part) => [part.slice(0, part.indexOf('\n')), part.slice(part.indexOf('\n') + 1).split('\n')]),
  );
  return { dir, code, stdout, stderr, sections, context: `stdout:\n${stdout}\nstderr:\n${stderr}` };
}

test('README: the sessions by hand work pasted into one shell, one block after the other', async () => {
  const run = await runBlocks('README.md', ['readme-session', 'readme-curl', 'readme-grpc-session']);
  const { sections, context } = run;

  // The session: alice's call answers 200 with her subject.
  const answer = sections['readme-session']?.find((line) => line.startsWith('{')) ?? '{}';
  assert.equal((JSON.parse(answer) as { subject?: string }).subject, 'alice', context);

  // openssl + curl: the openssl thumbprint is the token's cnf; alice gets 200, bob 401 invalid_token.
  const [thumbprint = '', claims = '{}', hello = '{}', status = '', challenge = ''] = sections['readme-curl'] ?? [];
  assert.match(thumbprint, /^[A-Za-z0-9_-]{43}$/, context);
  const payload = JSON.parse(claims) as { sub: string; cnf: Record<string, string> };
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.cnf['x5t#S256'], thumbprint, 'the cnf in the token is the openssl-computed thumbprint');
  assert.equal((JSON.parse(hello) as { subject: string }).subject, 'alice', context);
  assert.match(status, /^HTTP\/1\.1 401/, context);
  assert.match(
    challenge,
    /^www-authenticate: Bearer error="invalid_token", error_description="token is bound to a different client certificate"/i,
  );

  // gRPC by hand, after `cd certs` and back: alice's SayHello answers; bob's exchange is refused.
  const grpc = (sections['readme-grpc-session'] ?? []).join('\n');
  assert.match(
    grpc,
    /^certbound grpc-server listening on https:\/\/127\.0\.0\.1:\d+\nhealth: SERVING\nHello alice \(token subject alice, bound to x5t#S256 [A-Za-z0-9_-]{43}\)\nhealth: SERVING\n/,
    context,
  );
  assert.match(
    run.stderr,
    /certbound: SayHello failed: UNAUTHENTICATED: .*STS refused the exchange \(invalid_request: subject_token was not issued to this client certificate\)/,
  );
  assert.equal(run.code, 1, "the last command, bob's grpc-call, exits 1");
  // Its log is where the README says, one JSON line per call, without the token.
  const log = await readFile(join(run.dir, 'grpc.log'), 'utf8');
  assert.match(log, /"type":"call\.allowed"/);
  assert.doesNotMatch(log, /eyJ/);
});

test("docs/cli.md: the worked example runs as written, and its servers' logs say what the text says", async () => {
  const run = await runBlocks('docs/cli.md', ['cli-worked-example']);
  const lines = run.sections['cli-worked-example'] ?? [];
  const output = lines.join('\n');
  const { context } = run;
  assert.match(output, /^certs\/sts\.yaml: ok \(issuer https:\/\/sts\.domain\.com:8081, /m, context);
  const thumbprint = lines.find((line) => /^[A-Za-z0-9_-]{43}$/.test(line));
  assert.ok(thumbprint !== undefined, context);
  assert.match(output, /bound to certs\/alice\.crt: yes/);
  assert.match(output, /bound to certs\/bob\.crt: NO/);
  const hello = JSON.parse(lines.find((line) => line.startsWith('{"message"')) ?? '{}') as Record<string, string>;
  assert.deepEqual([hello.subject, hello.scope, hello['x5t#S256']], ['alice', 'read', thumbprint]);
  assert.match(
    output,
    /^HTTP\/1\.1 401 Unauthorized\r?\nwww-authenticate: Bearer error="invalid_token", error_description="token is bound to a different client certificate"/im,
  );
  assert.match(
    run.stderr,
    /^certbound: STS refused the exchange \(invalid_request: subject_token was not issued to this client certificate\)$/m,
  );
  assert.match(await readFile(join(run.dir, 'token.txt'), 'utf8'), /^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
  assert.equal(run.code, 0, `the servers drained and exited 0 (wait)\n${context}`);

  const sts = await readFile(join(run.dir, 'sts.log'), 'utf8');
  const resource = await readFile(join(run.dir, 'resource.log'), 'utf8');
  assert.match(sts, /"type":"token\.issued"/);
  assert.match(sts, /"type":"token\.refused".*"code":"CB_SUBJECT_TOKEN_NOT_FOR_CLIENT"/);
  assert.match(resource, /"type":"request\.allowed"/);
  assert.match(resource, /"type":"request\.refused".*"code":"CB_CNF_MISMATCH"/);
  for (const log of [sts, resource]) assert.doesNotMatch(log, /eyJ[\w-]+\.[\w-]+\./, 'no token in a log');
});
