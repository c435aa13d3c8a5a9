// --workers: several processes serving one port (node:cluster), as the CLI runs them by default.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli, startServer, type CliServer } from './run.js';
import { WAIT_TIMEOUT_MS } from '../helpers/wait.js';

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);

before(async () => {
  dir = await makeTempDir('workers');
  await pkiInit(dir);
});
after(async () => {
  await killAll();
  await removeTempDir(dir);
});

/** The pids of `server`'s worker processes (children of the primary). */
function workerPids(server: CliServer): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(server.child.pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** A token request on a fresh connection (so the primary hands it to the next worker). */
async function exchange(url: string): Promise<number> {
  const [ca, cert, key] = await Promise.all(['ca.crt', 'alice.crt', 'alice.key'].map((name) => readFile(file(name), 'utf8')));
  const agent = new Agent({ connect: { ca, cert, key } });
  try {
    const response = await request(`${url}/token`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: 'iamtheeggman',
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        audience: 'https://server.domain.com:8443',
      }).toString(),
    });
    await response.body.text();
    return response.statusCode;
  } finally {
    await agent.close();
  }
}

const pidsOf = (log: string, type: string): Set<number> =>
  new Set(
    log
      .split('\n')
      .filter((line) => line.includes(`"type":"${type}"`))
      .map((line) => (JSON.parse(line) as { pid: number }).pid),
  );

test('sts --workers 2: one port, both workers serve, SIGHUP reaches both, a dead worker is replaced, SIGTERM stops all with exit 0', async () => {
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0', '--workers', '2']);
  try {
    assert.match(
      sts.readyLine,
      /^certbound sts listening on https:\/\/127\.0\.0\.1:\d+ \(issuer https:\/\/sts\.domain\.com:8081, 2 workers\)$/,
    );
    const pids = workerPids(sts);
    assert.equal(pids.length, 2);
    const statuses = await Promise.all(Array.from({ length: 12 }, () => exchange(sts.url)));
    assert.deepEqual(new Set(statuses), new Set([200]));
    assert.deepEqual(pidsOf(sts.stderr(), 'token.issued'), new Set(pids), 'both workers issued tokens');

    sts.child.kill('SIGHUP');
    await sts.untilLogged((log) => pidsOf(log, 'tls.reloaded').size === 2, 'both workers reloaded', 8000);

    process.kill(pids[0] as number, 'SIGKILL');
    await sts.untilLogged('"type":"worker.restarted"', 'a replacement worker', 8000);
    assert.match(sts.stderr(), new RegExp(`"type":"worker.exited","pid":${pids[0]},"code":null,"signal":"SIGKILL"`));
    assert.equal(workerPids(sts).length, 2);
    assert.deepEqual(new Set(await Promise.all(Array.from({ length: 6 }, () => exchange(sts.url)))), new Set([200]));
  } finally {
    const pids = workerPids(sts);
    assert.deepEqual(await sts.stop(), { code: 0, signal: null });
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
  }
});

test('TLS sessions resume on any worker: a client reconnecting skips the full handshake whichever worker takes it', async () => {
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0', '--workers', '2']);
  try {
    const [ca, cert, key] = await Promise.all(['ca.crt', 'alice.crt', 'alice.key'].map((name) => readFile(file(name), 'utf8')));
    const port = Number(new URL(sts.url).port);
    /** A handshake, resumed from `session` if given; with `wantTicket`, also the first session ticket the server sends. */
    const handshake = (session?: Buffer, wantTicket = false): Promise<{ reused: boolean; session: Buffer | undefined }> =>
      new Promise((resolve, reject) => {
        let ticket: Buffer | undefined;
        let connected = false;
        const socket = connect(
          { host: '127.0.0.1', port, ca, cert, key, servername: 'localhost', ...(session === undefined ? {} : { session }) },
          () => {
            connected = true;
            settle();
          },
        );
        // TLS 1.3 tickets arrive after the handshake: wait for the 'session' event, bounded.
        const timer = setTimeout(() => fail(new Error(`no session ticket within ${WAIT_TIMEOUT_MS} ms`)), WAIT_TIMEOUT_MS);
        function settle(): void {
          if (!connected || (wantTicket && ticket === undefined)) return;
          clearTimeout(timer);
          resolve({ reused: socket.isSessionReused(), session: ticket });
          socket.end();
        }
        function fail(error: Error): void {
          clearTimeout(timer);
          socket.destroy();
          reject(error);
        }
        socket.on('session', (value: Buffer) => {
          ticket ??= value;
          settle();
        });
        socket.on('error', fail);
      });
    const first = await handshake(undefined, true);
    assert.equal(first.reused, false);
    assert.ok(first.session !== undefined, 'the server issued a session ticket');
    // Consecutive connections are handed to the workers in turn: all must resume.
    const resumed = [];
    for (let i = 0; i < 6; i++) resumed.push((await handshake(first.session)).reused);
    assert.deepEqual(resumed, [true, true, true, true, true, true]);
  } finally {
    assert.deepEqual(await sts.stop(), { code: 0, signal: null });
  }
});

test("a configuration error under --workers is reported once, with the worker's exit code", async () => {
  const result = await runCli([
    'resource',
    '--port',
    '0',
    '--tls-ca',
    file('ca.crt'),
    '--tls-cert',
    file('server.crt'),
    '--tls-key',
    file('server.key'),
    '--jwks',
    file('missing.json'),
    '--issuer',
    'https://sts.domain.com:8081',
    '--audience',
    'https://server.domain.com:8443',
    '--workers',
    '3',
  ]);
  assert.equal(result.code, 2);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /missing\.json/);
  const bad = await runCli(['sts', '--config', file('sts.yaml'), '--workers', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^certbound: sts: --workers must be an integer from 1 to 256\n$/);
});

test('without --workers the CLI runs one worker per available core', async () => {
  const resource = await startServer(
    [
      'resource',
      '--port',
      '0',
      '--tls-ca',
      file('ca.crt'),
      '--tls-cert',
      file('server.crt'),
      '--tls-key',
      file('server.key'),
      '--jwks',
      file('jwks.json'),
      '--issuer',
      'https://sts.domain.com:8081',
      '--audience',
      'https://server.domain.com:8443',
    ],
    undefined,
    { defaultWorkers: true },
  );
  try {
    const cores = availableParallelism();
    if (cores === 1) assert.match(resource.readyLine, /listening on https:\/\/127\.0\.0\.1:\d+$/);
    else assert.match(resource.readyLine, new RegExp(`\\(${cores} workers\\)$`));
    // Found by name (pidof -s certbound-resource): the primary has the plain name, workers their own.
    assert.equal((await readFile(`/proc/${resource.child.pid}/cmdline`, 'utf8')).replace(/\0+$/, '').trim(), 'certbound-resource');
    const children = (await readFile(`/proc/${resource.child.pid}/task/${resource.child.pid}/children`, 'utf8'))
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    if (cores > 1) {
      assert.equal(children.length, cores);
      for (const pid of children)
        assert.equal((await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0+$/, '').trim(), 'certbound-resource-worker');
    }
  } finally {
    assert.deepEqual(await resource.stop(), { code: 0, signal: null });
  }
});
