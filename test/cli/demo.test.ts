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

test(
  'certbound demo --pkcs11 plays the same story with alice’s, bob’s and the signing key in a SoftHSM2 token, and says where each key lives',
  { timeout: 70_000 },
  async () => {
    const result = await runCli(['demo', '--pkcs11'], { timeoutMs: 60_000, processGroup: true });
    const leftovers = processGroupAlive(result.pid);
    if (leftovers) killProcessGroup(result.pid);
    assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    assert.equal(result.stdout.split('\n').filter((line) => line.trim() === 'PASS').length, 11, result.stdout);
    assert.doesNotMatch(result.stdout, /FAIL/);
    for (const [who, label] of [
      ["alice's key", 'certbound-alice'],
      ["bob's key", 'certbound-bob'],
      ['the STS signing key', 'certbound-jwt'],
    ]) {
      assert.match(
        result.stdout,
        new RegExp(
          `${who}: in SoftHSM2 token "certbound-demo" \\(.*libsofthsm2\\.so\\), not extractable: pkcs11:token=certbound-demo;object=${label};type=private`,
        ),
      );
    }
    assert.match(result.stdout, /the CA's and the servers' keys: files in \S+ \(ca\.key, sts\.key, server\.key, grpc\.key\)/);
    assert.match(result.stdout, /observed: CKA_EXTRACTABLE=false, CKA_SENSITIVE=true, reading the value: CKR_ATTRIBUTE_SENSITIVE/);
    const dir = (/Dev PKI written to (\S+)/.exec(result.stdout) ?? [])[1] as string;
    await assert.rejects(access(dir), { code: 'ENOENT' }, `${dir} (and its token) still exists after the demo`);
    assert.equal(leftovers, false, 'the demo left processes running');
  },
);

test(
  'without the optional gRPC packages the demo runs its six HTTPS steps and names the packages the gRPC steps need',
  { timeout: 70_000 },
  async () => {
    const hide = new URL('../helpers/without-grpc-packages.js', import.meta.url).href;
    const result = await runCli(['demo'], { timeoutMs: 60_000, processGroup: true, env: { NODE_OPTIONS: `--import=${hide}` } });
    const leftovers = processGroupAlive(result.pid);
    if (leftovers) killProcessGroup(result.pid);

    assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    const passes = result.stdout.split('\n').filter((line) => line.trim() === 'PASS');
    assert.equal(passes.length, 6, result.stdout);
    assert.doesNotMatch(result.stdout, /FAIL|gRPC server listening/);
    assert.match(result.stdout, /All 6 steps behaved as expected/);
    assert.match(
      result.stdout,
      /The 4 gRPC steps did not run: .*npm install @grpc\/grpc-js @grpc\/proto-loader @grpc\/reflection grpc-health-check/,
    );
    assert.equal(leftovers, false, 'the demo left processes running');
  },
);
