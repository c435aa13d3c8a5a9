// The pieces of the server log that need no server: levels of events, the level a server picks,
// request ids, the terminal form, and redaction in a real process writing to a pipe.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { levelOfEvent } from '../../src/cli/log-levels.js';
import { prettyLine } from '../../src/cli/log-pretty.js';
import { logLevelOf } from '../../src/cli/log.js';
import { acceptRequestId } from '../../src/server/request-id.js';

test('events have levels: failures of the server error, failed reloads and fetches warn, the rest info', () => {
  const levels = Object.fromEntries(
    [
      'token.issued',
      'token.refused',
      'request.allowed',
      'call.refused',
      'authz.refused',
      'tls.reloaded',
      'jwks.recovered',
      'tls.reload_failed',
      'jwks.reload_failed',
      'keystore.reload_failed',
      'jwks.fetch_failed',
      'worker.exited',
      'server.error',
      'request.failed',
      'jwks.expired',
      'tls.key_failed',
      'something.new',
    ].map((type) => [type, levelOfEvent(type)]),
  );
  assert.deepEqual(levels, {
    'token.issued': 'info',
    'token.refused': 'info',
    'request.allowed': 'info',
    'call.refused': 'info',
    'authz.refused': 'info',
    'tls.reloaded': 'info',
    'jwks.recovered': 'info',
    'tls.reload_failed': 'warn',
    'jwks.reload_failed': 'warn',
    'keystore.reload_failed': 'warn',
    'jwks.fetch_failed': 'warn',
    'worker.exited': 'warn',
    'server.error': 'error',
    'request.failed': 'error',
    'jwks.expired': 'error',
    'tls.key_failed': 'error',
    'something.new': 'info',
  });
  assert.equal(levelOfEvent(undefined), 'info');
});

test('the level: the setting (flag, CERTBOUND_LOG_LEVEL or file, already checked), else info', () => {
  assert.equal(logLevelOf('debug'), 'debug');
  assert.equal(logLevelOf('silent'), 'silent');
  assert.equal(logLevelOf(undefined), 'info');
});

test('request ids: 1 to 128 token characters are kept, anything else is replaced by a fresh UUID', () => {
  for (const kept of ['a', 'edge-1.2_3~x', "!#$%&'*+.^_`|~-", 'x'.repeat(128)]) assert.equal(acceptRequestId(kept), kept);
  const made = ['', 'x'.repeat(129), 'two words', 'a\nb', 'semi;colon', 'é', '{json}', undefined].map((id) => acceptRequestId(id));
  made.push(acceptRequestId(['a', 'b']));
  for (const id of made) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(made).size, made.length);
});

test('the terminal form: time, level, service, type, then the fields; odd text is quoted, never raw', () => {
  const line = JSON.stringify({
    level: 'warn',
    time: '2026-12-02T14:05:06.789Z',
    service: 'resource',
    pid: 4242,
    type: 'tls.reload_failed',
    detail: 'ca.crl: no PEM CRL\u001b[2J',
    keys: 3,
    requestId: 'r-1',
  });
  assert.equal(
    prettyLine(line),
    '14:05:06.789 WARN  resource[4242] tls.reload_failed detail="ca.crl: no PEM CRL\\u001b[2J" keys=3 requestId=r-1\n',
  );
  assert.equal(prettyLine('not json\n'), 'not json\n');
});

test('redaction: a field named like a secret is never written, even if an event ever carried one', () => {
  const log = fileURLToPath(new URL('../../src/cli/log.js', import.meta.url));
  const script = `import { logEvent } from ${JSON.stringify(log)};
    const log = logEvent('sts', 'info');
    log({ type: 'token.refused', token: 'eyJ.secret.1', authorization: 'Bearer secret-2', subject_token: 'secret-3', password: 'secret-4', pin: '1234', code: 'CB_X' });
    log({ type: 'not.listed', detail: 'info' });
    log({ type: 'server.error', detail: 'kept' });`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, CERTBOUND_LOG_LEVEL: '' },
  });
  assert.equal(child.status, 0, child.stderr);
  const lines = child.stderr
    .trim()
    .split('\n')
    .map((text) => JSON.parse(text) as Record<string, unknown>);
  assert.deepEqual(lines[0], {
    level: 'info',
    time: lines[0]?.time,
    service: 'sts',
    type: 'token.refused',
    token: '[redacted]',
    authorization: '[redacted]',
    subject_token: '[redacted]',
    password: '[redacted]',
    pin: '[redacted]',
    code: 'CB_X',
  });
  assert.doesNotMatch(child.stderr, /secret|1234/);
  assert.deepEqual(
    lines.map((line) => [line.level, line.type]),
    [
      ['info', 'token.refused'],
      ['info', 'not.listed'],
      ['error', 'server.error'],
    ],
  );
});
