import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { docBlocks, REPO } from './doc-blocks.js';

// The README's sessions by hand, pasted into one shell as a reader would: the session (pki init,
// sts and resource started with &, certbound wait, certbound call), then the openssl + curl
// block, then gRPC by hand. Only the ports the servers listen on and are reached at are pointed
// at free ones (the issuer and audiences keep their documented ports: they are names).
const CLI = join(REPO, 'dist', 'src', 'cli', 'main.js');
const BLOCKS = ['readme-session', 'readme-curl', 'readme-grpc-session'] as const;
let shell: ChildProcess | undefined;
let dir = '';

after(async () => {
  // The servers the blocks started with & are in the shell's process group.
  if (shell?.pid !== undefined) {
    try {
      process.kill(-shell.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

function block(name: string): string {
  const found = docBlocks().find((candidate) => candidate.file === 'README.md' && candidate.marker.join(' ') === `run ${name}`);
  assert.ok(found !== undefined, `README.md has no sh block marked <!-- example: run ${name} -->`);
  assert.equal(found.lang, 'sh');
  return found.code;
}

test('README: the sessions by hand work pasted into one shell, one block after the other', async () => {
  dir = await mkdtemp(join(tmpdir(), 'certbound-readme-session-'));
  // `certbound` as the README's alias makes it (a shell script cannot use an alias).
  await mkdir(join(dir, 'bin'));
  await writeFile(join(dir, 'bin', 'certbound'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  await chmod(join(dir, 'bin', 'certbound'), 0o755);
  const ports = new Map([
    [8081, await freePort()],
    [8443, await freePort()],
    [50051, await freePort()],
  ]);
  let script = BLOCKS.map((name) => `echo "=== ${name}"\n${block(name)}`).join('');
  for (const [documented, free] of ports) {
    script = script.replace(new RegExp(`(--port |127\\.0\\.0\\.1:|^(?:STS|API)=[\\w.]+:)${documented}\\b`, 'gm'), `$1${free}`);
  }
  assert.doesNotMatch(script, /\bsleep\b/, 'the blocks wait for servers with certbound wait, not sleep');

  shell = spawn('bash', ['-c', script], {
    cwd: dir,
    detached: true,
    env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
  ) as Record<(typeof BLOCKS)[number], string[]>;
  const context = `stdout:\n${stdout}\nstderr:\n${stderr}`;

  // The session: alice's call answers 200 with her subject.
  const session = sections['readme-session'] ?? [];
  const answer = session.find((line) => line.startsWith('{')) ?? '{}';
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
    stderr,
    /certbound: SayHello failed: UNAUTHENTICATED: .*STS refused the exchange \(invalid_request: subject_token was not issued to this client certificate\)/,
  );
  assert.equal(code, 1, "the last command, bob's grpc-call, exits 1");
  // Its log is where the README says, one JSON line per call, without the token.
  const log = await readFile(join(dir, 'grpc.log'), 'utf8');
  assert.match(log, /"type":"call\.allowed"/);
  assert.doesNotMatch(log, /eyJ/);
});
