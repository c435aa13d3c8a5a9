// `certbound demo`: the end-to-end walk-through passes every step and cleans up after itself.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { killAll, killProcessGroup, processGroupAlive, runCli } from './run.js';

after(killAll);

test('certbound demo passes all ten steps (HTTPS and gRPC) and removes its temporary directory', { timeout: 70_000 }, async () => {
  // Its own process group, so that a timeout also kills the STS and resource server it starts.
  const result = await runCli(['demo'], { timeoutMs: 60_000, processGroup: true });
  // The demo stops its servers before it exits, so nothing may be left in its group.
  const leftovers = processGroupAlive(result.pid);
  if (leftovers) killProcessGroup(result.pid);

  assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  const passes = result.stdout.split('\n').filter((line) => line.trim() === 'PASS');
  assert.equal(passes.length, 10, result.stdout);
  assert.match(result.stdout, /observed: UNAUTHENTICATED: invalid_token: token is bound to a different client certificate/);
  assert.match(result.stdout, /observed: {"status":"SERVING"}/);
  assert.doesNotMatch(result.stdout, /FAIL/);
  assert.match(result.stdout, /x5t#S256/);

  const match = /Dev PKI written to (\S+)/.exec(result.stdout);
  assert.ok(match !== null, `no PKI directory in:\n${result.stdout}`);
  const dir = match[1] as string;
  assert.match(dir, /certbound-demo-/);
  await assert.rejects(access(dir), { code: 'ENOENT' }, `${dir} still exists after the demo`);
  assert.equal(leftovers, false, 'the demo left processes running');
});
