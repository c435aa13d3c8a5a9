// `certbound keys` and an STS configured with a keystore and a trusted issuer's JWKS file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { killAll, lines, makeTempDir, pkiInit, removeTempDir, runCli, startServer } from './run.js';

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);

before(async () => {
  dir = await makeTempDir('keys');
  await pkiInit(dir);
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

test('keys generate, rotate and list manage the schedule; keys are 0600', async () => {
  const keys = file('keystore');
  const generated = await runCli(['keys', 'generate', '--dir', keys]);
  assert.equal(generated.code, 0, generated.stderr);
  const firstKid = /generated ES256 key (\S+) \(signing now\)/.exec(generated.stdout)?.[1];
  assert.ok(firstKid !== undefined, generated.stdout);

  const again = await runCli(['keys', 'generate', '--dir', keys]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already has an active key; use keys rotate/);

  const rotated = await runCli([
    'keys',
    'rotate',
    '--dir',
    keys,
    '--alg',
    'EdDSA',
    '--publish-ahead',
    '600',
    '--max-token-lifetime',
    '120',
  ]);
  assert.equal(rotated.code, 0, rotated.stderr);
  const secondKid = /rotated to EdDSA key (\S+) \(published now, signing from \S+\)/.exec(rotated.stdout)?.[1];
  assert.ok(secondKid !== undefined, rotated.stdout);

  const listed = await runCli(['keys', 'list', '--dir', keys]);
  assert.equal(listed.code, 0, listed.stderr);
  const rows = lines(listed.stdout).slice(1);
  assert.match(rows.find((row) => row.startsWith(firstKid)) ?? '', /ES256\s+signing/);
  assert.match(rows.find((row) => row.startsWith(secondKid)) ?? '', /EdDSA\s+next/);

  for (const name of await readdir(keys)) {
    if (name.endsWith('.key')) assert.equal((await stat(join(keys, name))).mode & 0o777, 0o600, name);
  }
  const index = JSON.parse(await readFile(join(keys, 'keystore.json'), 'utf8')) as {
    keys: { kid: string; retire_at?: number; expire_at?: number; activate_at: number }[];
  };
  const [old, next] = [index.keys.find((key) => key.kid === firstKid), index.keys.find((key) => key.kid === secondKid)];
  assert.equal(old?.retire_at, next?.activate_at, 'the old key stops signing when the new one starts');
  assert.equal(old?.expire_at, (next?.activate_at ?? 0) + 120 + 60, 'and stays published for the token lifetime plus skew');
});

test('keys: bad input is one line and exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['keys'], /expected generate, list or rotate/],
    [['keys', 'generate'], /--dir is required/],
    [['keys', 'rotate', '--dir', file('empty-keystore')], /has no keys yet; use keys generate/],
    [['keys', 'generate', '--dir', file('k2'), '--alg', 'HS256'], /--alg must be one of ES256, ES384, RS256, PS256, EdDSA/],
    [['keys', 'rotate', '--dir', file('keystore'), '--publish-ahead', 'soon'], /--publish-ahead must be a number of seconds/],
    [['keys', 'lst', '--dir', file('keystore')], /^certbound: keys: expected generate, list or rotate; did you mean list\?$/m],
    // A mistyped path is not an empty keystore: the table would say "no keys" where the path is wrong.
    [
      ['keys', 'list', '--dir', file('nonexistent')],
      new RegExp(`^certbound: keys list: ${escape(file('nonexistent'))}: no such directory$`, 'm'),
    ],
    [
      ['keys', 'list', '--dir', file('empty-dir')],
      new RegExp(`^certbound: keys list: no keys in ${escape(file('empty-dir'))}/keystore\\.json`, 'm'),
    ],
    [['keys', 'list', '--dir', file('keystore.json-as-dir')], /not a directory/],
  ];
  await mkdir(file('empty-dir'), { recursive: true });
  await writeFile(file('keystore.json-as-dir'), '{}');
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(result.stderr, message);
  }
});

test('an STS with signing.keystore and a trusted issuer JWKS file passes --check-config and publishes every scheduled key', async () => {
  const keys = file('sts-keystore');
  assert.equal((await runCli(['keys', 'generate', '--dir', keys])).code, 0);
  assert.equal((await runCli(['keys', 'rotate', '--dir', keys, '--publish-ahead', '600'])).code, 0);
  const idp = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  await writeFile(file('idp-jwks.json'), JSON.stringify({ keys: [{ ...idp, kid: 'idp-1', alg: 'ES256' }] }));
  const base = await readFile(file('sts.yaml'), 'utf8');
  const config = base
    .replace(/signing:\n(?: {2}.*\n)+/, 'signing:\n  keystore: sts-keystore\n')
    .replace(
      'policy:\n',
      `policy:\n  trusted_issuers:\n    - issuer: https://idp.example.com\n      jwks_file: idp-jwks.json\n      audiences: [https://sts.domain.com]\n      subjects:\n        - subject: "*@example.com"\n          audiences: [https://server.domain.com:8443]\n`,
    );
  await writeFile(file('sts-keystore.yaml'), config);

  const checked = await runCli(['sts', '--config', file('sts-keystore.yaml'), '--check-config']);
  assert.equal(checked.code, 0, checked.stderr);
  assert.match(checked.stdout, /1 trusted issuers, keystore with 2 published keys, signing with ES256 key \S+\)/);

  const sts = await startServer(['sts', '--config', file('sts-keystore.yaml'), '--port', '0']);
  const agent = new Agent({ connect: { ca: await readFile(file('ca.crt'), 'utf8') } });
  try {
    const response = await request(`${sts.url}/.well-known/jwks.json`, { dispatcher: agent });
    const jwks = (await response.body.json()) as { keys: unknown[] };
    assert.equal(jwks.keys.length, 2);
    const maxAge = Number(/max-age=(\d+)/.exec(String(response.headers['cache-control']))?.[1]);
    assert.ok(maxAge > 0 && maxAge <= 300, `max-age ${maxAge}`);
  } finally {
    await agent.close();
    assert.deepEqual(await sts.stop(), { code: 0, signal: null });
  }

  await writeFile(file('sts-broken.yaml'), config.replace('jwks_file: idp-jwks.json', 'jwks_file: missing.json'));
  const broken = await runCli(['sts', '--config', file('sts-broken.yaml'), '--check-config']);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /missing\.json/);
});

test('SIGHUP: a single-key STS keeps serving; a keystore STS reloads, and reports a broken keystore while keeping its keys', async () => {
  const single = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
  single.child.kill('SIGHUP');
  await single.untilLogged('"type":"reload.skipped"');
  assert.deepEqual(await single.stop(), { code: 0, signal: null });

  const keys = file('hup-keystore');
  assert.equal((await runCli(['keys', 'generate', '--dir', keys])).code, 0);
  const base = await readFile(file('sts.yaml'), 'utf8');
  await writeFile(file('sts-hup.yaml'), base.replace(/signing:\n(?: {2}.*\n)+/, 'signing:\n  keystore: hup-keystore\n'));
  const sts = await startServer(['sts', '--config', file('sts-hup.yaml'), '--port', '0']);
  const agent = new Agent({ connect: { ca: await readFile(file('ca.crt'), 'utf8') } });
  const publishedKids = async (): Promise<number> =>
    ((await (await request(`${sts.url}/.well-known/jwks.json`, { dispatcher: agent })).body.json()) as { keys: unknown[] }).keys.length;
  try {
    assert.equal(await publishedKids(), 1);
    assert.equal((await runCli(['keys', 'rotate', '--dir', keys])).code, 0);
    sts.child.kill('SIGHUP');
    await sts.untilLogged('"type":"keystore.reloaded"');
    assert.equal(await publishedKids(), 2);
    await writeFile(join(keys, 'keystore.json'), '{ not json');
    sts.child.kill('SIGHUP');
    await sts.untilLogged('"type":"keystore.reload_failed"');
    assert.equal(await publishedKids(), 2, 'the last good keystore stays in use');
  } finally {
    await agent.close();
    assert.deepEqual(await sts.stop(), { code: 0, signal: null });
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
