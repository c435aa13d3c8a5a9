import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buffer } from 'node:stream/consumers';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import { protect } from '../../src/http/node.js';
import { serverTlsOptions } from '../../src/server/tls.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { ALICE_SECRET, AUDIENCE, ISSUER, startSts } from '../helpers/servers.js';
import { killAll, makeTempDir, removeTempDir, runCli } from './run.js';

// certbound call's curl-like flags against a real protected resource that echoes what it got.
let pki: TestPki;
let dir: string;
let stsUrl: string;
let resourceUrl: string;
const closers: (() => unknown)[] = [];

before(async () => {
  pki = await createTestPki();
  dir = await makeTempDir('certbound-call-request-');
  await Promise.all([
    writeFile(join(dir, 'ca.crt'), pki.ca.certPem),
    writeFile(join(dir, 'alice.crt'), pki.alice.certPem),
    writeFile(join(dir, 'alice.key'), pki.alice.keyPem, { mode: 0o600 }),
    writeFile(join(dir, 'body.json'), '{"from":"a file"}'),
  ]);
  const sts = await startSts({ after: (close: () => unknown) => closers.push(close) }, pki);
  stsUrl = sts.url;
  const verifier = createBoundTokenVerifier({ keys: { keys: [sts.signingKey.publicJwk] }, issuer: ISSUER, audience: AUDIENCE });
  const resource = createServer(
    serverTlsOptions({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem }),
    protect(
      async (req, res, auth) => {
        const body = (await buffer(req)).toString();
        const status = req.url === '/missing' ? 404 : 200;
        res.writeHead(status, { 'content-type': 'application/json', 'x-echo': 'yes' });
        res.end(
          JSON.stringify({
            method: req.method,
            type: req.headers['content-type'],
            test: req.headers['x-test'],
            body,
            subject: auth.subject,
          }),
        );
      },
      { verifier },
    ),
  ).listen(0, '127.0.0.1');
  await once(resource, 'listening');
  closers.push(() => resource.close());
  resourceUrl = `https://127.0.0.1:${(resource.address() as { port: number }).port}`;
});

after(async () => {
  await killAll();
  for (const close of closers) await close();
  await removeTempDir(dir);
});

function call(path: string, ...extra: string[]) {
  return (options: { input?: string } = {}) =>
    runCli(
      [
        'call',
        `${resourceUrl}${path}`,
        '--sts',
        stsUrl,
        '--tls-ca',
        join(dir, 'ca.crt'),
        '--tls-cert',
        join(dir, 'alice.crt'),
        '--tls-key',
        join(dir, 'alice.key'),
        '--subject-token',
        ALICE_SECRET,
        '--audience',
        AUDIENCE,
        ...extra,
      ],
      options,
    );
}

const echoed = (stdout: string) => JSON.parse(stdout) as Record<string, string | undefined>;

test('call: GET by default; -d sends a form with POST, as curl does', async () => {
  const get = await call('/')();
  assert.equal(get.code, 0, get.stderr);
  assert.deepEqual(echoed(get.stdout), { method: 'GET', body: '', subject: 'alice' });
  const post = await call('/', '-d', 'a=1&b=2')();
  assert.equal(post.code, 0, post.stderr);
  assert.deepEqual(echoed(post.stdout), { method: 'POST', type: 'application/x-www-form-urlencoded', body: 'a=1&b=2', subject: 'alice' });
});

test('call: -X, -H and -d @FILE / @- (stdin), long names too', async () => {
  const put = await call(
    '/',
    '-X',
    'PUT',
    '-H',
    'Content-Type: application/json',
    '-H',
    'X-Test: one',
    '-d',
    `@${join(dir, 'body.json')}`,
  )();
  assert.equal(put.code, 0, put.stderr);
  assert.deepEqual(echoed(put.stdout), {
    method: 'PUT',
    type: 'application/json',
    test: 'one',
    body: '{"from":"a file"}',
    subject: 'alice',
  });
  const patch = await call('/', '--request', 'PATCH', '--header', 'content-type: text/plain', '--data', '@-')({ input: 'from stdin' });
  assert.equal(patch.code, 0, patch.stderr);
  assert.deepEqual(echoed(patch.stdout), { method: 'PATCH', type: 'text/plain', body: 'from stdin', subject: 'alice' });
  const del = await call('/', '-X', 'DELETE')();
  assert.equal(echoed(del.stdout).method, 'DELETE');
});

test('call: -i prints the status line and headers first; on a 404 too, then exits 1', async () => {
  const ok = await call('/', '-i')();
  assert.equal(ok.code, 0, ok.stderr);
  const [head = '', body = ''] = ok.stdout.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\nx-echo: yes(\r\n|$)/);
  assert.equal(echoed(body).subject, 'alice');
  const missing = await call('/missing', '--include')();
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /^HTTP\/1\.1 404 Not Found\r\n/);
  assert.match(missing.stdout, /"subject":"alice"/);
  assert.equal(missing.stderr, 'certbound: resource answered 404\n');
});

test('call: a bad -X, -H or -d exits 2 naming the flag, before any exchange', async () => {
  for (const [extra, message] of [
    [['-X', 'GE T'], 'call: --request "GE T" is not an HTTP method'],
    [['-X', 'CONNECT'], 'call: --request CONNECT cannot be sent with fetch'],
    [['-d', 'x', '-X', 'GET'], 'call: --data cannot be sent with GET: give --request POST (or PUT, PATCH...)'],
    [['-H', 'no colon'], `call: --header "no colon" is not 'Name: value'`],
    [
      ['-H', 'Authorization: Bearer mine'],
      'call: --header Authorization: call sends the bound token there; to send a token of your own use curl',
    ],
    [['-d', `@${join(dir, 'absent.json')}`], `call: --data @${join(dir, 'absent.json')}: cannot read the file (ENOENT)`],
  ] as const) {
    const result = await call('/', ...extra)();
    assert.equal(result.code, 2, extra.join(' '));
    assert.equal(result.stderr, `certbound: ${message}\n`);
  }
});
