import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTestPki } from '../helpers/pki.js';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli } from './run.js';
import { freePort } from '../helpers/ports.js';

// A server that checks tokens against a JWKS URL fetches it before it listens: a wrong URL, a
// wrong CA or an issuer that is not up stops it at start with the reason (exit 1), instead of a
// ready line followed by 503 for every request. --start-without-jwks is tested in metrics.test.ts.
let dir = '';
const file = (name: string): string => join(dir, name);

before(async () => {
  dir = await makeTempDir('jwks-at-start');
  await pkiInit(dir);
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

test('resource, grpc-server and authz exit 1 naming the JWKS URL they cannot fetch, and the way out', async () => {
  const url = `https://127.0.0.1:${await freePort()}/.well-known/jwks.json`;
  const tls = ['--tls-ca', file('ca.crt'), '--tls-cert', file('server.crt'), '--tls-key', file('server.key')];
  const verifier = ['--jwks', url, '--issuer', 'https://sts.domain.com:8081', '--audience', 'https://server.domain.com:8443'];
  for (const args of [
    ['resource', '--port', '0', ...tls, ...verifier],
    ['grpc-server', '--port', '0', ...tls, ...verifier],
    ['authz', '--port', '0', '--client-cert-format', 'pem-urlencoded', '--rule', 'GET / read', '--jwks-ca', file('ca.crt'), ...verifier],
  ]) {
    const command = args[0] as string;
    const result = await runCli(args);
    assert.equal(result.code, 1, `${command}: ${result.stderr}`);
    assert.equal(result.stdout, '', `${command} printed no ready line`);
    assert.equal(
      result.stderr,
      `certbound: ${command}: cannot fetch the JWKS ${url} (ECONNREFUSED): start the issuer first, check --jwks and the CA it is checked against, or give --start-without-jwks to listen and fetch it later\n`,
    );
  }
});

test("resource: a JWKS server whose certificate is not from --tls-ca stops it too, with OpenSSL's reason", async () => {
  // A JWKS over TLS with a certificate of another CA than the one pki init wrote.
  const other = await createTestPki();
  const jwks = createHttpsServer({ key: other.server.keyPem, cert: other.server.certPem }, (_request, response) =>
    response.end('{"keys":[]}'),
  ).listen(0, '127.0.0.1');
  await once(jwks, 'listening');
  try {
    const url = `https://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
    const result = await runCli([
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
      url,
      '--issuer',
      'https://sts.domain.com:8081',
      '--audience',
      'https://server.domain.com:8443',
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, '');
    assert.match(
      result.stderr,
      new RegExp(`^certbound: resource: cannot fetch the JWKS ${url.replace(/[.]/g, '\\.')} \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\): `),
    );
  } finally {
    jwks.close();
  }
});
