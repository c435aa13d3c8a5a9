import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { freePort } from '../helpers/ports.js';
import { ALICE_SECRET, AUDIENCE, startSts } from '../helpers/servers.js';
import { killAll, makeTempDir, removeTempDir, runCli } from './run.js';

// A connection that fails says what failed and which flag fixes it, for real failures of real
// TLS on loopback: an untrusted server certificate, a name mismatch, a handshake the server
// refuses, a port that is not TLS, a port nobody listens on.
let pki: TestPki;
let dir: string;
let stsUrl: string;
const closers: (() => unknown)[] = [];

before(async () => {
  pki = await createTestPki();
  dir = await makeTempDir('certbound-connection-failures-');
  await Promise.all([
    writeFile(join(dir, 'ca.crt'), pki.ca.certPem),
    writeFile(join(dir, 'other-ca.crt'), pki.otherCa.certPem),
    writeFile(join(dir, 'alice.crt'), pki.alice.certPem),
    writeFile(join(dir, 'alice.key'), pki.alice.keyPem, { mode: 0o600 }),
  ]);
  stsUrl = (await startSts({ after: (close: () => unknown) => closers.push(close) }, pki)).url;
});

after(async () => {
  await killAll();
  for (const close of closers) await close();
  await removeTempDir(dir);
});

async function listening(
  server: { listen(port: number, host: string): unknown; close(): unknown; address(): unknown } & NodeJS.EventEmitter,
) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return `https://127.0.0.1:${(server.address() as { port: number }).port}`;
}

function token(sts: string, ...extra: string[]) {
  return runCli([
    'token',
    '--sts',
    sts,
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
  ]);
}

function assertFailure(result: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, pattern);
  assert.equal(result.stderr.split('\n').length, 2, 'one line');
}

test('token: a server certificate from a CA not in --tls-ca is named so, with the flag to fix it', async () => {
  const result = await token(stsUrl, '--tls-ca', join(dir, 'other-ca.crt'));
  assertFailure(
    result,
    /^certbound: STS https:\/\/127\.0\.0\.1:\d+ presented a certificate not issued by a trusted CA \([A-Z_]+\): give the CA that issued it with --tls-ca\n$/,
  );
});

test('token: a certificate for other names says which names, and --servername', async () => {
  const result = await token(stsUrl, '--servername', 'other.domain.com');
  assertFailure(
    result,
    /^certbound: STS https:\/\/127\.0\.0\.1:\d+ presented a certificate for other names \(.*other\.domain\.com.*DNS:localhost.*\): use a URL with one of those names, or give the name to check with --servername NAME\n$/,
  );
});

test('token: a server that refuses the client certificate is named so, in TLS 1.2 and in TLS 1.3', async () => {
  // Requires a client certificate from another CA: alice's is refused by TLS itself.
  const refusing = (maxVersion: 'TLSv1.2' | 'TLSv1.3') => {
    const server = createTlsServer({
      key: pki.server.keyPem,
      cert: pki.server.certPem,
      ca: pki.otherCa.certPem,
      requestCert: true,
      rejectUnauthorized: true,
      maxVersion,
    });
    server.on('tlsClientError', () => {});
    return listening(server);
  };
  // TLS 1.2: the server's alert ends the handshake; Node reports the reset, not the alert.
  assertFailure(
    await token(await refusing('TLSv1.2')),
    /^certbound: STS https:\/\/127\.0\.0\.1:\d+ closed the connection during the TLS handshake \(ECONNRESET\), as a server that does not accept the client certificate does: check that --tls-cert is issued by a CA the server trusts, and that the URL is the server's\n$/,
  );
  // TLS 1.3: the client's handshake is over before the server checks the certificate; the refusal is a close.
  assertFailure(
    await token(await refusing('TLSv1.3')),
    /^certbound: STS https:\/\/127\.0\.0\.1:\d+ closed the connection without answering \(UND_ERR_SOCKET\), as a server that does not accept the client certificate does: check that --tls-cert is issued by a CA the server trusts, and that the URL is the server's\n$/,
  );
});

test('token: a port that speaks plain HTTP, and a port nobody listens on', async () => {
  const plain = (await listening(createHttpServer((_request, response) => response.end('hello')))).replace('https:', 'https:');
  assertFailure(
    await token(plain),
    /^certbound: STS https:\/\/127\.0\.0\.1:\d+ does not speak TLS on that port \([A-Z_]+\): check the URL's port: it is not the server's TLS port\n$/,
  );

  const port = await freePort();
  assertFailure(
    await token(`https://127.0.0.1:${port}`),
    /^certbound: STS https:\/\/127\.0\.0\.1:\d+ refused the connection: nothing listens there: check that the server runs and that the URL's port is the one it listens on\n$/,
  );
});

test("call: the resource's certificate problem names --servername, the STS's --sts-servername", async () => {
  const args = [
    '--sts',
    stsUrl,
    '--tls-ca',
    join(dir, 'ca.crt'),
    '--tls-cert',
    join(dir, 'alice.crt'),
    '--tls-key',
    join(dir, 'alice.key'),
  ];
  const common = [...args, '--subject-token', ALICE_SECRET, '--audience', AUDIENCE];
  // A resource whose certificate is not for the name asked: the test PKI's server certificate.
  const resource = createTlsServer({ key: pki.server.keyPem, cert: pki.server.certPem });
  const resourceUrl = await listening(resource);
  const wrongName = await runCli(['call', `${resourceUrl}/`, ...common, '--servername', 'api.example']);
  assertFailure(
    wrongName,
    /^certbound: resource https:\/\/127\.0\.0\.1:\d+ presented a certificate for other names \(.*\): .* --servername NAME\n$/,
  );
  const stsWrongName = await runCli(['call', `${resourceUrl}/`, ...common, '--sts-servername', 'api.example']);
  assertFailure(
    stsWrongName,
    /^certbound: STS https:\/\/127\.0\.0\.1:\d+ presented a certificate for other names \(.*\): .* --sts-servername NAME\n$/,
  );
});
