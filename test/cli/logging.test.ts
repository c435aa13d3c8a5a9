// Server logs as an operator meets them: JSON lines with a level, --log-level, the config file's
// log_level and CERTBOUND_LOG_LEVEL, and request ids taken from X-Request-Id or made, echoed and
// logged with the request's events.
import assert from 'node:assert/strict';
import { appendFile, copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli, startServer, type CliServer } from './run.js';

const AUDIENCE = 'https://server.domain.com:8443';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let dir: string | undefined;
let alice: Agent | undefined;
const file = (name: string): string => join(dir as string, name);

before(async () => {
  dir = await makeTempDir('logging');
  await pkiInit(dir);
  const revoked = await runCli(['pki', 'revoke', '--dir', dir]); // an empty ca.crl, to break later
  assert.equal(revoked.code, 0, revoked.stderr);
  const ca = await readFile(file('ca.crt'), 'utf8');
  alice = new Agent({ connect: { ca, cert: await readFile(file('alice.crt'), 'utf8'), key: await readFile(file('alice.key'), 'utf8') } });
});
after(async () => {
  await alice?.close();
  await killAll();
  await removeTempDir(dir);
});

/** POST /token as alice: the status, the X-Request-Id answered, and the body. */
async function askToken(sts: CliServer, fields: Record<string, string>, requestId?: string) {
  const response = await request(`${sts.url}/token`, {
    method: 'POST',
    dispatcher: alice as Agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(requestId === undefined ? {} : { 'x-request-id': requestId }) },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.statusCode, requestId: response.headers['x-request-id'], body: await response.body.text() };
}

const exchange = {
  grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
  subject_token: 'iamtheeggman',
  subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  audience: AUDIENCE,
};

/** Every line of a server's stderr, parsed: each must be JSON. */
function records(server: CliServer): Record<string, unknown>[] {
  return server
    .stderr()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

test('by default every event is a JSON line at its level, with the request id the response carries', async () => {
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0'], undefined, { env: { CERTBOUND_LOG_LEVEL: '' } });
  try {
    const kept = await askToken(sts, exchange, 'edge-7f3a.42');
    assert.equal(kept.status, 200, kept.body);
    assert.equal(kept.requestId, 'edge-7f3a.42');
    // Not a token: too long, or characters a header or a terminal should not carry.
    const made = await Promise.all(['x'.repeat(129), 'two words', 'semi;colon'].map((id) => askToken(sts, exchange, id)));
    const none = await askToken(sts, { ...exchange, grant_type: 'password' });
    assert.equal(none.status, 400);
    const generated = [...made, none].map((answer) => String(answer.requestId));
    for (const id of generated) assert.match(id, UUID);
    assert.equal(new Set(generated).size, generated.length, 'each request gets its own id');
    await sts.untilLogged((log) => generated.every((id) => log.includes(id)), 'the generated ids');

    const lines = records(sts);
    const issued = lines.filter((line) => line.type === 'token.issued');
    assert.equal(issued.length, 4);
    assert.deepEqual(new Set(issued.map((line) => line.requestId)), new Set(['edge-7f3a.42', ...generated.slice(0, 3)]));
    const first = issued.find((line) => line.requestId === 'edge-7f3a.42') as Record<string, unknown>;
    assert.equal(first.level, 'info');
    assert.equal(first.service, 'sts');
    assert.match(String(first.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(first.clientId, 'alice');
    const refused = lines.find((line) => line.type === 'token.refused') as Record<string, unknown>;
    assert.deepEqual([refused.level, refused.code, refused.requestId], ['info', 'CB_GRANT_TYPE_UNSUPPORTED', none.requestId]);
  } finally {
    assert.deepEqual(await sts.stop(), { code: 0, signal: null });
  }
});

test('--log-level warn keeps warnings only, and wins over CERTBOUND_LOG_LEVEL', async () => {
  const crl = file('warn.crl');
  await copyFile(file('ca.crl'), crl);
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0', '--tls-crl', crl, '--log-level', 'warn'], undefined, {
    env: { CERTBOUND_LOG_LEVEL: 'debug' },
  });
  try {
    assert.equal((await askToken(sts, exchange)).status, 200);
    sts.child.kill('SIGHUP'); // tls.reloaded: info, not logged
    await writeFile(crl, 'not a CRL\n');
    sts.child.kill('SIGHUP');
    await sts.untilLogged('"type":"tls.reload_failed"');
    const lines = records(sts);
    assert.deepEqual(
      lines.map((line) => [line.level, line.type]),
      [['warn', 'tls.reload_failed']],
    );
  } finally {
    assert.deepEqual(await sts.stop(), { code: 0, signal: null });
  }
});

test('CERTBOUND_LOG_LEVEL sets the level when the flag does not, and wins over log_level in the file', async () => {
  const quiet = file('sts-silent.yaml');
  await copyFile(file('sts.yaml'), quiet);
  await appendFile(quiet, '\nlog_level: silent\n');
  // flag > environment > file: the variable's info beats the file's silent.
  const overFile = await startServer(['sts', '--config', quiet, '--port', '0'], undefined, { env: { CERTBOUND_LOG_LEVEL: 'info' } });
  const fromEnv = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0'], undefined, {
    env: { CERTBOUND_LOG_LEVEL: 'error' },
  });
  const fromFile = await startServer(['sts', '--config', quiet, '--port', '0'], undefined, { env: { CERTBOUND_LOG_LEVEL: '' } });
  try {
    for (const sts of [overFile, fromEnv, fromFile]) {
      assert.equal((await askToken(sts, exchange)).status, 200);
      assert.equal((await askToken(sts, { ...exchange, grant_type: 'password' })).status, 400);
    }
  } finally {
    for (const sts of [overFile, fromEnv, fromFile]) assert.deepEqual(await sts.stop(), { code: 0, signal: null });
  }
  // All exited, so whatever they would have written is written.
  assert.match(overFile.stderr(), /"level":"info",[^\n]*"type":"token.issued"/);
  assert.equal(fromEnv.stderr(), '');
  assert.equal(fromFile.stderr(), '');
});

test('a level that is not one: exit 2, naming the flag, the key or the variable', async () => {
  const flag = await runCli(['sts', '--config', file('sts.yaml'), '--port', '0', '--log-level', 'loud']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^certbound: .*--log-level.*must be one of trace, debug, info, warn, error, fatal, silent\n$/);
  const loud = file('sts-loud.yaml');
  await copyFile(file('sts.yaml'), loud);
  await appendFile(loud, '\nlog_level: loud\n');
  const key = await runCli(['sts', '--config', loud, '--port', '0', '--workers', '1']);
  assert.equal(key.code, 2);
  assert.match(key.stderr, /^certbound: .*log_level.*must be one of/);
  await assert.rejects(
    startServer(['resource', '--port', '0'], undefined, { env: { CERTBOUND_LOG_LEVEL: 'loud' } }),
    /certbound: .*CERTBOUND_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent/,
  );
});

test('resource: the request id is echoed and logged with the refusal', async () => {
  const resource = await startServer([
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
    AUDIENCE,
  ]);
  try {
    const response = await request(`${resource.url}/`, { dispatcher: alice as Agent, headers: { 'x-request-id': 'res-1' } });
    await response.body.text();
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['x-request-id'], 'res-1');
    await resource.untilLogged('"requestId":"res-1"');
    const refused = records(resource).find((line) => line.type === 'request.refused') as Record<string, unknown>;
    assert.deepEqual([refused.level, refused.code, refused.requestId], ['info', 'CB_TOKEN_MISSING', 'res-1']);
  } finally {
    assert.deepEqual(await resource.stop(), { code: 0, signal: null });
  }
});
