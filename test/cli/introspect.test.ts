// `certbound introspect`: RFC 7662 introspection at a real STS, as the registered resource server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli, startServer, type CliServer } from './run.js';

let dir: string;
let sts: CliServer;
const file = (name: string): string => join(dir, name);
const as = (who: string): string[] => [
  ...['--sts', sts.url, '--servername', 'sts.domain.com', '--tls-ca', file('ca.crt')],
  ...['--tls-cert', file(`${who}.crt`), '--tls-key', file(`${who}.key`)],
];

before(async () => {
  dir = await makeTempDir('introspect');
  await pkiInit(dir);
  sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
});
after(async () => {
  await killAll();
  await removeTempDir(dir);
});

async function aliceTokenResponse(): Promise<string> {
  const token = await runCli(['token', ...as('alice'), '--subject-token', 'iamtheeggman', '--audience', 'https://server.domain.com:8443']);
  assert.equal(token.code, 0, token.stderr);
  return token.stdout;
}

test('introspect - reads what `certbound token` printed and shows the active token with its cnf (exit 0)', async () => {
  const response = await aliceTokenResponse();
  const result = await runCli(['introspect', '-', ...as('server')], { input: response });
  assert.equal(result.code, 0, result.stderr);
  const answer = JSON.parse(result.stdout) as { active: boolean; sub: string; cnf: Record<string, string> };
  assert.equal(answer.active, true);
  assert.equal(answer.sub, 'alice');
  const thumbprint = await runCli(['thumbprint', file('alice.crt')]);
  assert.equal(answer.cnf['x5t#S256'], thumbprint.stdout.trim());
});

test('an unknown or forged token is inactive: {"active": false}, exit 1', async () => {
  const response = JSON.parse(await aliceTokenResponse()) as { access_token: string };
  const [header, payload] = response.access_token.split('.') as [string, string];
  const result = await runCli(['introspect', `${header}.${payload}.AAAA`, ...as('server')]);
  assert.equal(result.code, 1, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { active: false });
});

test('a client not registered for introspection is refused by the STS: one line with its OAuth error, exit 1', async () => {
  const result = await runCli(['introspect', 'abc', ...as('alice')]);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^certbound: the STS refused the introspection request: 401 invalid_client: .*introspect/);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
});

test('missing TOKEN or flags are usage errors naming them (exit 2)', async () => {
  const noToken = await runCli(['introspect', ...as('server')]);
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /^certbound: introspect: TOKEN is required/);
  const noFlags = await runCli(['introspect', 'abc', '--tls-ca', file('ca.crt')]);
  assert.equal(noFlags.code, 2);
  assert.match(noFlags.stderr, /--sts.*--tls-cert.*--tls-key.*required/);
});
