// Every STS setting is a key in sts.yaml and a flag, the flag winning: a few of each, end to end.
import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createMtlsAgent } from '../../src/client/mtls-agent.js';
import { GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN } from '../../src/core/rfc.js';
import { DEV_AUDIENCE, DEV_SUBJECT_TOKENS } from '../../src/pki/dev-pki.js';
import { postToken } from '../helpers/servers.js';
import { killAll, lines, makeTempDir, pkiInit, removeTempDir, runCli, startServer } from './run.js';

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);

before(async () => {
  dir = await makeTempDir('sts-settings');
  await pkiInit(dir);
  const yaml = await readFile(file('sts.yaml'), 'utf8');
  assert.match(yaml, /^access_token_lifetime: 3600$/m);
  const edited = yaml.replace(/^access_token_lifetime: 3600$/m, 'access_token_lifetime: 600');
  await writeFile(file('sts.yaml'), `${edited}\nsubject_token_error: invalid_grant\nrate_limit: 0\nport: 0\n`);
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

test('file keys apply, a flag overrides its key: lifetime from the flag, subject_token_error from the file', async () => {
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--access-token-lifetime', '120']);
  const read = (name: string) => readFile(file(name), 'utf8');
  const as = async (who: 'alice' | 'bob') =>
    createMtlsAgent({ ca: await read('ca.crt'), cert: await read(`${who}.crt`), key: await read(`${who}.key`) });
  const [alice, bob] = await Promise.all([as('alice'), as('bob')]);
  try {
    const body = {
      grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
      subject_token: DEV_SUBJECT_TOKENS.alice,
      subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
      audience: DEV_AUDIENCE,
    };
    const issued = await postToken(alice, sts.url, body);
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    assert.equal(issued.body.expires_in, 120);
    const refused = await postToken(bob, sts.url, body);
    assert.equal(refused.body.error, 'invalid_grant');
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    await sts.stop();
  }
});

test('bad STS settings in the file or as flags are one line naming the key or the flag', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--access-token-lifetime', '0'], /^certbound: sts: --access-token-lifetime must be an integer from 1 to 86400$/],
    [['--subject-token-error', 'invalid_scope'], /^certbound: sts: --subject-token-error must be one of invalid_request, invalid_grant$/],
    [['--jwt-alg', 'HS256'], /^certbound: sts: --jwt-alg must be one of /],
  ];
  for (const [flags, message] of cases) {
    const result = await runCli(['sts', '--config', file('sts.yaml'), '--check-config', ...flags]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(lines(result.stderr)[0] as string, message);
  }
  // A file with only a policy: everything it lacks in one line.
  const policyOnly = (await readFile(file('sts.yaml'), 'utf8')).slice((await readFile(file('sts.yaml'), 'utf8')).indexOf('policy:'));
  await writeFile(file('policy-only.yaml'), policyOnly);
  const bare = await runCli(['sts', '--config', file('policy-only.yaml'), '--check-config', '--tls-cert', file('sts.crt')]);
  assert.equal(bare.code, 2, bare.stderr);
  assert.match(
    bare.stderr,
    /^certbound: .*policy-only\.yaml: issuer, tls\.ca and tls\.key: must be non-empty strings \(or give --issuer, --tls-ca and --tls-key\)\n$/,
  );
  await appendFile(file('sts.yaml'), 'body_limit: 10\n');
  const result = await runCli(['sts', '--config', file('sts.yaml'), '--check-config']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /sts\.yaml: body_limit: must be an integer from 1024 to 1048576\n$/);
});
