import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

// The README promises that a token can be checked by hand with openssl and curl. This runs the
// README's block verbatim, with only its two address lines pointed at servers on free ports.
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));
const children: ChildProcess[] = [];
let dir = '';

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

function startServer(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${args[0]} not ready in 15 s`)), 15_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const port = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
      if (port !== undefined) {
        clearTimeout(timer);
        resolve(port);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited ${code}`));
    });
  });
}

test('README: the openssl + curl walk-through shows the binding', async () => {
  dir = await mkdtemp(join(tmpdir(), 'certbound-readme-'));
  const certs = join(dir, 'certs');
  const init = spawnSync(process.execPath, [CLI, 'pki', 'init', '--out', certs], { encoding: 'utf8' });
  assert.equal(init.status, 0, init.stderr);
  const stsPort = await startServer(['sts', '--config', join(certs, 'sts.yaml'), '--port', '0']);
  const apiPort = await startServer([
    'resource',
    '--port',
    '0',
    '--tls-ca',
    join(certs, 'ca.crt'),
    '--tls-cert',
    join(certs, 'server.crt'),
    '--tls-key',
    join(certs, 'server.key'),
    '--jwks',
    join(certs, 'jwks.json'),
    '--issuer',
    'https://sts.domain.com:8081',
    '--audience',
    'https://server.domain.com:8443',
  ]);

  const readme = await readFile(README, 'utf8');
  const block = /<!-- manual-check:start -->\n```sh\n([\s\S]*?)```\n<!-- manual-check:end -->/.exec(readme)?.[1];
  assert.ok(block !== undefined, 'README has the manual-check block');
  const lines = block.split('\n');
  assert.match(lines[0] ?? '', /^STS=sts\.domain\.com:8081 /);
  assert.match(lines[1] ?? '', /^API=server\.domain\.com:8443 /);
  const script = [`STS=sts.domain.com:${stsPort}`, `API=server.domain.com:${apiPort}`, ...lines.slice(2)].join('\n');

  const run = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  const output = run.stdout.split('\n');
  const thumbprint = output[0] ?? '';
  assert.match(thumbprint, /^[A-Za-z0-9_-]{43}$/);
  const claims = JSON.parse(output[1] ?? '{}') as { sub: string; cnf: Record<string, string> };
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.cnf['x5t#S256'], thumbprint, 'the cnf in the token is the openssl-computed thumbprint');
  assert.equal((JSON.parse(output[2] ?? '{}') as { subject: string }).subject, 'alice');
  assert.match(output[3] ?? '', /^HTTP\/1\.1 401/);
  assert.match(
    output[4] ?? '',
    /^www-authenticate: Bearer error="invalid_token", error_description="token is bound to a different client certificate"/i,
  );
});
