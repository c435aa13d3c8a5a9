// Every flag of every command can come from CERTBOUND_<FLAG>: flag > environment > file > default,
// end to end through the real CLI, for server settings and for plain flags of other commands.
import assert from 'node:assert/strict';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { killAll, lines, makeTempDir, pkiInit, removeTempDir, runCli, startServer } from './run.js';

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);
const AUDIENCE = 'https://server.domain.com:8443';

before(async () => {
  dir = await makeTempDir('environment');
  await pkiInit(dir);
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

/** The issuer `sts --check-config` reports: where each source's value shows. */
async function checkedIssuer(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const result = await runCli(['sts', '--check-config', ...args], { env });
  assert.equal(result.code, 0, result.stderr);
  const match = /\(issuer (\S+),/.exec(result.stdout);
  assert.ok(match, result.stdout);
  return match[1] as string;
}

test('a variable is used when its flag is absent, beats the file, loses to the flag; empty is unset', async () => {
  const config = file('sts.yaml');
  assert.match(await readFile(config, 'utf8'), /^issuer: https:\/\/sts\.domain\.com:8081$/m);
  // CERTBOUND_CONFIG stands for --config, which sts requires.
  assert.equal(await checkedIssuer([], { CERTBOUND_CONFIG: config }), 'https://sts.domain.com:8081');
  assert.equal(await checkedIssuer([], { CERTBOUND_CONFIG: config, CERTBOUND_ISSUER: 'https://env.example' }), 'https://env.example');
  assert.equal(
    await checkedIssuer(['--issuer', 'https://flag.example'], { CERTBOUND_CONFIG: config, CERTBOUND_ISSUER: 'https://env.example' }),
    'https://flag.example',
  );
  assert.equal(await checkedIssuer(['--config', config], { CERTBOUND_ISSUER: '' }), 'https://sts.domain.com:8081');
});

test('a bad variable is one line naming the variable, never its value, exit 2', async () => {
  const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
    [{ CERTBOUND_RATE_LIMIT: 'lots' }, /^certbound: sts: CERTBOUND_RATE_LIMIT must be an integer from 0 to 1000000$/],
    [{ CERTBOUND_REQUIRE_CLIENT_ID: 'yes' }, /^certbound: sts: CERTBOUND_REQUIRE_CLIENT_ID must be true, false, 1 or 0$/],
    [{ CERTBOUND_ISSUER: 'http://plain.example' }, /^certbound: sts: CERTBOUND_ISSUER must be an https URL$/],
    [{ CERTBOUND_HEADERS_TIMEOUT: '60', CERTBOUND_REQUEST_TIMEOUT: '30' }, /^certbound: sts: CERTBOUND_HEADERS_TIMEOUT must not exceed/],
  ];
  for (const [env, message] of cases) {
    const result = await runCli(['sts', '--config', file('sts.yaml'), '--check-config'], { env });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(lines(result.stderr)[0] as string, message);
    for (const secretish of ['lots', 'yes', 'plain.example']) assert.ok(!result.stderr.includes(secretish), result.stderr);
  }
  // nameOf names each of two settings by where it came from.
  const resource = await runCli(['resource', '--port', '0', '--request-timeout', '5'], { env: { CERTBOUND_HEADERS_TIMEOUT: '9' } });
  assert.equal(resource.code, 2);
  assert.equal(resource.stderr, 'certbound: resource: CERTBOUND_HEADERS_TIMEOUT must not exceed --request-timeout\n');
});

test('a repeatable string option from its variable: comma-separated, items trimmed, none empty', async () => {
  const env = { CERTBOUND_AUDIENCE: `orders, ${AUDIENCE}` };
  const server = await startServer(
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
    ],
    undefined,
    { env },
  );
  const agent = new Agent({ connect: { ca: await readFile(file('ca.crt'), 'utf8') } });
  try {
    // The metadata names the first https audience: the second item of the variable.
    const response = await request(`${server.url}/.well-known/oauth-protected-resource`, { dispatcher: agent });
    assert.equal(response.statusCode, 200);
    assert.equal(((await response.body.json()) as { resource: string }).resource, AUDIENCE);
  } finally {
    await agent.close();
    await server.stop();
  }
  const empty = await runCli(['resource', '--port', '0'], { env: { CERTBOUND_AUDIENCE: 'orders,,billing' } });
  assert.equal(empty.code, 2);
  assert.equal(empty.stderr, 'certbound: resource: CERTBOUND_AUDIENCE must be a list of non-empty items separated by ","\n');
});

test("a repeatable path option from its variable: split as PATH is (':'), each path read", async () => {
  const revoke = await runCli(['pki', 'revoke'], { env: { CERTBOUND_DIR: dir as string } });
  assert.equal(revoke.code, 0, revoke.stderr);
  const missing = file('missing.crl');
  const result = await runCli(['sts', '--config', file('sts.yaml'), '--check-config'], {
    env: { CERTBOUND_TLS_CRL: `${file('ca.crl')}:${missing}` },
  });
  assert.equal(result.code, 2, result.stdout);
  assert.match(result.stderr, new RegExp(`^certbound: ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
});

test('plain flags of other commands: token from variables alone, and a flag beats a variable', async () => {
  await writeFile(file('port-sts.yaml'), `${await readFile(file('sts.yaml'), 'utf8')}\nport: 0\n`);
  const sts = await startServer(['sts', '--config', file('port-sts.yaml')]);
  const env = {
    CERTBOUND_STS: sts.url,
    CERTBOUND_TLS_CA: file('ca.crt'),
    CERTBOUND_TLS_CERT: file('alice.crt'),
    CERTBOUND_TLS_KEY: file('alice.key'),
    CERTBOUND_SUBJECT_TOKEN: 'iamtheeggman',
    CERTBOUND_AUDIENCE: AUDIENCE,
  };
  try {
    const token = await runCli(['token'], { env });
    assert.equal(token.code, 0, token.stderr);
    assert.equal(typeof (JSON.parse(token.stdout) as { access_token: unknown }).access_token, 'string');
    // bob's subject token on the command line, alice's in the environment: the flag wins (and is refused).
    const refused = await runCli(['token', '--subject-token', 'iamthewalrus'], { env });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /invalid_request/);
    // A flag for one of two alternatives beats the variable of the other.
    await writeFile(file('alice-token'), 'iamtheeggman\n');
    const fromFile = await runCli(['token', '--subject-token-file', file('alice-token')], {
      env: { ...env, CERTBOUND_SUBJECT_TOKEN: 'iamthewalrus' },
    });
    assert.equal(fromFile.code, 0, fromFile.stderr);
  } finally {
    await sts.stop();
  }
});

test("a boolean variable's false overrides the file's true, as no flag can", async () => {
  await writeFile(file('strict-sts.yaml'), `${await readFile(file('sts.yaml'), 'utf8')}\nport: 0\nrequire_client_id: true\n`);
  const sts = await startServer(['sts', '--config', file('strict-sts.yaml')], undefined, { env: { CERTBOUND_REQUIRE_CLIENT_ID: 'false' } });
  try {
    // No --client-id: an STS requiring one would refuse this exchange.
    const token = await runCli([
      'token',
      '--sts',
      sts.url,
      '--tls-ca',
      file('ca.crt'),
      '--tls-cert',
      file('alice.crt'),
      '--tls-key',
      file('alice.key'),
      '--subject-token',
      'iamtheeggman',
      '--audience',
      AUDIENCE,
    ]);
    assert.equal(token.code, 0, token.stderr);
  } finally {
    await sts.stop();
  }
  const checked = await runCli(['sts', '--config', file('strict-sts.yaml'), '--check-config'], {
    env: { CERTBOUND_REQUIRE_CLIENT_ID: 'no' },
  });
  assert.equal(checked.code, 2);
});

test('booleans of other commands: CERTBOUND_FORCE=1 overwrites, 0 does not, anything else is refused', async () => {
  const out = file('again');
  assert.equal((await runCli(['pki', 'init', '--out', out])).code, 0);
  const refused = await runCli(['pki', 'init', '--out', out], { env: { CERTBOUND_FORCE: '0' } });
  assert.notEqual(refused.code, 0, refused.stderr);
  assert.match(refused.stderr, /--force/);
  assert.equal((await runCli(['pki', 'init', '--out', out], { env: { CERTBOUND_FORCE: '1' } })).code, 0);
  const bad = await runCli(['pki', 'init', '--out', out], { env: { CERTBOUND_FORCE: 'TRUE' } });
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'certbound: pki: CERTBOUND_FORCE must be true, false, 1 or 0\n');
  await access(join(out, 'ca.crt'));
});

test('ad hoc checks of other commands name the variable too', async () => {
  const keys = await runCli(['keys', 'generate', '--dir', file('keystore')], { env: { CERTBOUND_ALG: 'HS256' } });
  assert.equal(keys.code, 2);
  assert.match(keys.stderr, /^certbound: keys generate: CERTBOUND_ALG must be one of ES256, /);
  const authz = await runCli(
    [
      ...['authz', 'config', 'nginx', '--upstream', 'http://127.0.0.1:1', '--authz', 'http://127.0.0.1:2'],
      ...['--tls-ca', 'a', '--tls-cert', 'b', '--tls-key', 'c'],
    ],
    { env: { CERTBOUND_LISTEN: 'nowhere' } },
  );
  assert.equal(authz.code, 2);
  assert.equal(authz.stderr, 'certbound: authz config: CERTBOUND_LISTEN must be ADDRESS:PORT\n');
});
