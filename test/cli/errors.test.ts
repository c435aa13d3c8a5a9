// Bad input: one `certbound: ...` line on stderr naming the file and the problem, no stack trace,
// exit code 2. --debug adds the details.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { killAll, lines, makeTempDir, pkiInit, removeTempDir, runCli, type RunResult } from './run.js';

let dir: string | undefined;
let pki = '';
const file = (name: string): string => join(dir as string, name);

before(async () => {
  dir = await makeTempDir('errors');
  pki = file('pki');
  await pkiInit(pki);
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

/** Exit 2, stdout empty, exactly one stderr line `certbound: ...` containing every fragment, no stack. */
function assertBadInput(result: RunResult, ...fragments: string[]): string {
  const stderr = lines(result.stderr);
  assert.equal(stderr.length, 1, `expected one stderr line, got:\n${result.stderr}`);
  const line = stderr[0] as string;
  assert.ok(line.startsWith('certbound: '), `stderr line does not start with "certbound: ": ${line}`);
  assert.doesNotMatch(result.stderr, /^\s+at /m, 'stack trace on stderr without --debug');
  for (const fragment of fragments) assert.ok(line.includes(fragment), `stderr line does not mention ${JSON.stringify(fragment)}: ${line}`);
  assert.equal(result.code, 2, `exit code: ${result.code}; stderr: ${line}`);
  assert.equal(result.stdout, '', 'nothing on stdout for bad input');
  return line;
}

describe('certbound bad input', { concurrency: 4 }, () => {
  test('unknown command', async () => {
    assertBadInput(await runCli(['frobnicate']), 'unknown command', 'frobnicate');
  });

  test('unknown flag', async () => {
    assertBadInput(await runCli(['sts', '--config', 'x', '--bogus']), 'sts', '--bogus');
  });

  test('resource without its required flags names them all in one message', async () => {
    const line = assertBadInput(await runCli(['resource']));
    assert.equal(line, 'certbound: resource: --port, --tls-ca, --tls-cert, --tls-key, --jwks, --issuer and --audience are required');
  });

  test('resource with some required flags names only the missing ones', async () => {
    const line = assertBadInput(await runCli(['resource', '--port', '0', '--tls-key', 'k', '--issuer', 'i', '--audience', 'a']));
    assert.equal(line, 'certbound: resource: --tls-ca, --tls-cert and --jwks are required');
  });

  test('a required flag set in the environment is not reported missing', async () => {
    const line = assertBadInput(await runCli(['resource', '--port', '0'], { env: { CERTBOUND_JWKS: 'jwks.json' } }));
    assert.equal(line, 'certbound: resource: --tls-ca, --tls-cert, --tls-key, --issuer and --audience are required');
  });

  test('grpc-server without its required flags names them all too', async () => {
    const line = assertBadInput(await runCli(['grpc-server', '--port', '0', '--tls-ca', 'ca.crt']));
    assert.equal(line, 'certbound: grpc-server: --tls-cert, --tls-key, --jwks, --issuer and --audience are required');
  });

  test('grpc-server: a bad limit is one line, before an admin listener starts and logs', async () => {
    const result = await runCli([
      ...['grpc-server', '--port', '0', '--admin-port', '0', '--tls-ca', 'ca.crt', '--tls-cert', 'c', '--tls-key', 'k'],
      ...['--jwks', 'jwks.json', '--issuer', 'i', '--audience', 'a', '--handshake-timeout', 'soon'],
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^certbound: grpc-server: --handshake-timeout must be /);
    assert.equal(result.stderr.split('\n').length, 2, `one line, no admin.listening event: ${result.stderr}`);
  });

  test('token without --sts and the TLS files names all four', async () => {
    const line = assertBadInput(await runCli(['token']));
    assert.equal(line, 'certbound: token: --sts, --tls-ca, --tls-cert and --tls-key are required');
  });

  test("a negative number after a space gets its flag's own message, as with =", async () => {
    for (const args of [
      ['resource', '--port', '-1'],
      ['resource', '--port=-1'],
    ]) {
      const line = assertBadInput(await runCli(args));
      assert.equal(line, 'certbound: resource: --port must be an integer from 0 to 65535', args.join(' '));
    }
    const rateLimit = assertBadInput(await runCli(['sts', '--config', file('pki/sts.yaml'), '--rate-limit', '-5']));
    assert.match(rateLimit, /^certbound: sts: --rate-limit must be an integer from 0 to \d+$/);
  });

  test('a flag whose value is forgotten before the next flag is still missing its value', async () => {
    const before = assertBadInput(await runCli(['resource', '--port', '--tls-ca', 'ca.crt']));
    assert.equal(before, 'certbound: resource: --port needs a value (one starting with "-" is written --port=VALUE)');
    const last = assertBadInput(await runCli(['resource', '--tls-ca']));
    assert.equal(last, 'certbound: resource: --tls-ca needs a value (one starting with "-" is written --tls-ca=VALUE)');
  });

  test('an unknown option gets the closest known one', async () => {
    const line = assertBadInput(await runCli(['resource', '--port', '0', '--tls-crt', 'x']));
    assert.equal(line, 'certbound: resource: unknown option --tls-crt; did you mean --tls-cert?');
    const swapped = assertBadInput(await runCli(['token', '--audeince', 'x']));
    assert.equal(swapped, 'certbound: token: unknown option --audeince; did you mean --audience?');
    const far = assertBadInput(await runCli(['token', '--zzz']));
    assert.equal(far, 'certbound: token: unknown option --zzz (see --help)');
  });

  test('an unknown command gets the closest known one', async () => {
    assert.equal(assertBadInput(await runCli(['tokn'])), 'certbound: unknown command "tokn"; did you mean token?');
    assert.equal(assertBadInput(await runCli(['inspekt'])), 'certbound: unknown command "inspekt"; did you mean inspect?');
  });

  test('token --output takes json, token or header', async () => {
    const line = assertBadInput(await runCli(['token', '--output', 'jsn']));
    assert.equal(line, 'certbound: token: --output must be one of json, token, header; did you mean json?');
    const env = assertBadInput(await runCli(['token'], { env: { CERTBOUND_OUTPUT: 'yaml' } }));
    assert.equal(env, 'certbound: token: CERTBOUND_OUTPUT must be one of json, token, header');
  });

  test('a library refusal names the flag, not the library option', async () => {
    const tls = ['--tls-ca', file('pki/ca.crt'), '--tls-cert', file('pki/alice.crt'), '--tls-key', file('pki/alice.key')];
    const line = assertBadInput(await runCli(['token', '--sts', 'http://127.0.0.1:1', ...tls, '--subject-token', 's', '--audience', 'a']));
    assert.match(line, /^certbound: token: --sts must be an https URL/);
    assert.doesNotMatch(line, /stsUrl/);
  });

  test('sts --config with a file that does not exist', async () => {
    const missing = file('missing.yaml');
    assertBadInput(await runCli(['sts', '--config', missing]), missing, 'no such file');
  });

  test('sts --config with a file that is not YAML', async () => {
    const bad = file('not-yaml.yaml');
    await writeFile(bad, 'issuer: [\n');
    assertBadInput(await runCli(['sts', '--config', bad]), bad, 'not valid YAML');
  });

  test('sts --config with a policy error names the file and the path in it', async () => {
    const broken = join(pki, 'broken-policy.yaml');
    const original = await readFile(join(pki, 'sts.yaml'), 'utf8');
    const changed = original.replace(/sha256: [0-9a-f]{64}/, 'sha256: not-a-sha256');
    assert.notEqual(changed, original, 'sts.yaml from pki init has a subject token sha256 to break');
    await writeFile(broken, changed);
    assertBadInput(await runCli(['sts', '--config', broken]), broken, 'policy.subject_tokens[0].sha256');
  });

  test('sts --config registering a client for a grant type the STS does not serve', async () => {
    const broken = join(pki, 'unserved-grant.yaml');
    const original = await readFile(join(pki, 'sts.yaml'), 'utf8');
    const changed = original.replace('    - client_id: bob\n', '    - client_id: bob\n      grant_types: [password]\n');
    assert.notEqual(changed, original);
    await writeFile(broken, changed);
    assertBadInput(
      await runCli(['sts', '--config', broken, '--check-config']),
      broken,
      'policy.clients[1].grant_types[0]',
      'unknown grant type',
    );
  });

  test('sts --config with an unknown top-level key', async () => {
    const unknown = join(pki, 'unknown-key.yaml');
    await writeFile(unknown, `${await readFile(join(pki, 'sts.yaml'), 'utf8')}\nlistener_backlog: 12\n`);
    assertBadInput(await runCli(['sts', '--config', unknown]), unknown, 'listener_backlog', 'unknown key');
  });

  test('sts --config limits: an unknown key, a value out of range, headers outlasting the request', async () => {
    const original = await readFile(join(pki, 'sts.yaml'), 'utf8');
    const cases: Array<[string, string, string]> = [
      ['limits:\n  max_sockets: 5\n', 'limits.max_sockets', 'unknown key'],
      ['limits:\n  handshake_timeout: 0\n', 'limits.handshake_timeout', 'must be an integer from 1 to 3600'],
      ['limits:\n  max_connections: -1\n', 'limits.max_connections', 'must be an integer from 0 to 1000000'],
      ['limits:\n  headers_timeout: 40\n', 'limits.headers_timeout', 'must not exceed limits.request_timeout'],
    ];
    for (const [section, path, problem] of cases) {
      const broken = join(pki, 'broken-limits.yaml');
      await writeFile(broken, `${original}\n${section}`);
      assertBadInput(await runCli(['sts', '--config', broken, '--check-config']), broken, path, problem);
    }
  });

  test('sts --tls-key that does not match the certificate', async () => {
    const bobKey = join(pki, 'bob.key');
    assertBadInput(await runCli(['sts', '--config', join(pki, 'sts.yaml'), '--tls-key', bobKey]), bobKey, 'does not match');
  });

  test('sts --jwt-key that is not a key', async () => {
    const garbage = file('garbage.key');
    await writeFile(garbage, 'this is not a private key\n');
    assertBadInput(await runCli(['sts', '--config', join(pki, 'sts.yaml'), '--jwt-key', garbage]), garbage, 'private key');
  });

  test('thumbprint of a file that is not a certificate', async () => {
    const notCert = file('not-a-cert.pem');
    await writeFile(notCert, 'hello\n');
    assertBadInput(await runCli(['thumbprint', notCert]), notCert, 'certificate');
  });

  test('thumbprint of a private key (PEM, but no certificate)', async () => {
    const key = join(pki, 'alice.key');
    assertBadInput(await runCli(['thumbprint', key]), key, 'no PEM certificate');
  });

  test('thumbprint of a corrupt certificate', async () => {
    const corrupt = file('corrupt.crt');
    await writeFile(corrupt, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    assertBadInput(await runCli(['thumbprint', corrupt]), corrupt, 'cannot be parsed');
  });

  test('inspect of something that is not a JWT', async () => {
    assertBadInput(await runCli(['inspect', 'notajwt']), 'inspect', 'not a JWT');
  });

  test('pki init into a directory that already has the files; --force overwrites', async () => {
    const out = file('pki-again');
    await pkiInit(out);
    const before = await readFile(join(out, 'ca.crt'), 'utf8');
    assertBadInput(await runCli(['pki', 'init', '--out', out]), out, 'already exists');
    assert.equal(await readFile(join(out, 'ca.crt'), 'utf8'), before, 'refused pki init left ca.crt alone');

    const forced = await runCli(['pki', 'init', '--out', out, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(forced.stderr, '');
    assert.notEqual(await readFile(join(out, 'ca.crt'), 'utf8'), before, '--force wrote a new CA');
  });

  test('pki init refuses when any one of its files exists, and then writes nothing', async () => {
    const out = file('pki-partial');
    await mkdir(out);
    const mine = join(out, 'sts.yaml');
    await writeFile(mine, '# my own configuration\n');
    assertBadInput(await runCli(['pki', 'init', '--out', out]), mine, 'already exists');
    assert.deepEqual(await readdir(out), ['sts.yaml'], 'a refused pki init writes no other file');
    assert.equal(await readFile(mine, 'utf8'), '# my own configuration\n');
  });

  test('--debug adds details after the one-line message', async () => {
    const bad = file('not-yaml-debug.yaml');
    await writeFile(bad, 'issuer: [\n');
    const result = await runCli(['sts', '--config', bad, '--debug']);
    assert.equal(result.code, 2);
    const stderr = lines(result.stderr);
    assert.ok(stderr.length > 1, `--debug printed only:\n${result.stderr}`);
    assert.ok(stderr[0]?.startsWith(`certbound: ${bad}`), `first line: ${stderr[0]}`);
    assert.ok(stderr[0]?.includes('not valid YAML'));
    assert.match(result.stderr, /^\s+at /m, '--debug prints the stack');
  });
});
