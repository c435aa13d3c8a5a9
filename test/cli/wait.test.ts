import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTlsServer } from 'node:tls';
import { after, before, test } from 'node:test';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { killAll, runCli } from './run.js';
import { freePort } from '../helpers/ports.js';

let pki: TestPki;
const closers: (() => void)[] = [];

before(async () => {
  pki = await createTestPki();
});

after(async () => {
  for (const close of closers) close();
  await killAll();
});

test('wait: returns once a TLS server listens and a readiness URL answers 200, not before', async () => {
  const tlsPort = await freePort();
  // A server that requires a client certificate (as grpc-server does): wait has none, and the
  // server's refusal of the handshake still says it is up.
  const tls = createTlsServer({
    key: pki.server.keyPem,
    cert: pki.server.certPem,
    ca: pki.ca.certPem,
    requestCert: true,
    rejectUnauthorized: true,
  });
  tls.on('tlsClientError', () => {});
  closers.push(() => tls.close());
  // /readyz answers 503 three times; with the third, the TLS server starts listening.
  let readyzRequests = 0;
  const admin = createHttpServer((_request, response) => {
    readyzRequests += 1;
    if (readyzRequests === 3) tls.listen(tlsPort, '127.0.0.1');
    response.writeHead(readyzRequests >= 3 ? 200 : 503).end(readyzRequests >= 3 ? 'ready' : 'not ready');
  }).listen(0, '127.0.0.1');
  await once(admin, 'listening');
  closers.push(() => admin.close());
  const adminPort = (admin.address() as { port: number }).port;

  const handshakes = once(tls, 'tlsClientError');
  const result = await runCli(['wait', `https://127.0.0.1:${tlsPort}`, `http://127.0.0.1:${adminPort}/readyz`, '--timeout', '15']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, '');
  assert.ok(readyzRequests >= 3, `readyz asked ${readyzRequests} times`);
  await handshakes; // it did reach the TLS server
});

test('wait: exits 1 naming the address and the last failure when it stays down', async () => {
  const port = await freePort();
  const result = await runCli(['wait', `127.0.0.1:${port}`, '--timeout', '1']);
  assert.equal(result.code, 1);
  assert.equal(result.stderr, `certbound: wait: 127.0.0.1:${port} is not up after 1 s (last attempt: ECONNREFUSED)\n`);
});

test('wait: bad input exits 2 with one line naming the fix', async () => {
  for (const [args, message] of [
    [[], 'wait: give at least one ADDRESS (https://HOST:PORT, HOST:PORT or an http:// URL)'],
    [['ftp://127.0.0.1:21'], 'wait: "ftp://127.0.0.1:21": only https:// and http:// addresses can be waited for'],
    [['127.0.0.1:8081', '--timeout', '0'], 'wait: --timeout must be an integer from 1 to 3600'],
    [['127.0.0.1:8081', '--timeout', 'soon'], 'wait: --timeout must be an integer from 1 to 3600'],
  ] as const) {
    const result = await runCli(['wait', ...args]);
    assert.equal(result.code, 2, args.join(' '));
    assert.equal(result.stderr, `certbound: ${message}\n`);
  }
});
