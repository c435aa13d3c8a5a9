// TLS keys that never leave a PKCS#11 token: a real SoftHSM2 token made for this file, OpenSSL's
// pkcs11 engine (libengine-pkcs11-openssl) inside Node, real mutual TLS on loopback. The STS's
// server key, alice's client key (for the STS, the resource and a gRPC channel) all sit in it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { createBoundFetch } from '../../src/client/bound-fetch.js';
import { createMtlsAgent } from '../../src/client/mtls-agent.js';
import { createTokenSource } from '../../src/client/token-source.js';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import { loadJwksSource } from '../../src/keys/jwks-source.js';
import { loadTlsFiles } from '../../src/files/tls-files.js';
import { createStsCredentials } from '../../src/grpc/call-credentials.js';
import { protect } from '../../src/http/node.js';
import { prepareEngine } from '../../src/keys/pkcs11-engine.js';
import { openPkcs11TlsKey, type Pkcs11TlsKey } from '../../src/keys/pkcs11-tls-key.js';
import { pkcs11KeyOpener } from '../../src/keys/tls-key-opener.js';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/generate.js';
import { serverTlsOptions } from '../../src/server/tls.js';
import { bearer, callUnary, echoClient, startInterceptedServer } from '../helpers/grpc.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { ALICE_SECRET, AUDIENCE, exchangeRequest, ISSUER, postToken, startSts, testPolicy } from '../helpers/servers.js';
import { createSoftHsmToken, generateKeyPair, SOFTHSM_MODULE, type SoftHsmToken } from '../helpers/softhsm.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { request } from 'undici';

let pki: TestPki;
let token: SoftHsmToken;
let serverKey: Pkcs11TlsKey;
let aliceKey: Pkcs11TlsKey;
let serverCert: IssuedCertificate;
let aliceCert: IssuedCertificate;
const uri = (object: string): string => `pkcs11:token=${token.label};object=${object};type=private`;

before(async () => {
  pki = await createTestPki();
  token = await createSoftHsmToken('certbound-tls');
  await generateKeyPair(token, 'ec', 'server');
  await generateKeyPair(token, 'rsa', 'alice');
  // First, while nothing is logged in: once a login succeeds, the token stays logged in for the
  // process (its sessions hold it, the engine's too) and PKCS#11 checks no PIN again.
  await assert.rejects(openPkcs11TlsKey({ uri: uri('server'), module: SOFTHSM_MODULE, pin: '0000' }), /the PIN is wrong/);
  serverKey = await openPkcs11TlsKey({ uri: uri('server'), module: SOFTHSM_MODULE, pin: token.pin });
  aliceKey = await openPkcs11TlsKey({ uri: uri('alice'), module: SOFTHSM_MODULE, pin: token.pin });
  serverCert = await issueCertificate(pki.ca, {
    commonName: 'localhost',
    usage: 'both',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    publicKey: serverKey.publicKey,
  });
  // alice's certificate has the same subject as the test PKI's alice; the policy pins the thumbprint.
  aliceCert = await issueCertificate(pki.ca, { commonName: 'alice', usage: 'client', publicKey: aliceKey.publicKey });
});

after(() => token.remove());

/** The test policy, with alice's subject token pinned to the certificate of her key in the token. */
function policyForTokenAlice() {
  const policy = testPolicy({ ...pki, alice: aliceCert });
  return policy;
}

test('the key identifier handed to OpenSSL names the token and key and carries no PIN', () => {
  assert.equal(serverKey.identifier, `pkcs11:token=${token.label};object=server;type=private`);
  assert.equal(aliceCert.keyPem, '', 'no private key exists outside the token');
});

test('STS with its TLS key in the token; alice with hers: the token is bound to her certificate in the token', async (t) => {
  const sts = await startSts(t, pki, {
    policy: policyForTokenAlice(),
    tls: { ca: pki.ca.certPem, cert: serverCert.certPem, key: serverKey },
  });
  const agent = createMtlsAgent({ ca: pki.ca.certPem, cert: aliceCert.certPem, key: aliceKey, servername: 'localhost' });
  t.after(() => agent.close());
  const answer = await postToken(agent, sts.url.replace('127.0.0.1', 'localhost'), exchangeRequest());
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const claims = decodeJwt((answer.body as { access_token: string }).access_token);
  assert.deepEqual(claims.cnf, { 'x5t#S256': aliceCert.thumbprint });
  assert.equal(claims.sub, 'alice');
});

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  test(`${version}: a server key in the token completes the handshake and the peer sees its certificate`, async (t) => {
    const server = createHttpsServer(serverTlsOptions({ ca: pki.ca.certPem, cert: serverCert.certPem, key: serverKey }), (_req, res) =>
      res.end('ok'),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const socket = connect({
      port: (server.address() as AddressInfo).port,
      host: '127.0.0.1',
      servername: 'localhost',
      ca: pki.ca.certPem,
      cert: pki.alice.certPem,
      key: pki.alice.keyPem,
      minVersion: version,
      maxVersion: version,
    });
    await once(socket, 'secureConnect');
    t.after(() => socket.destroy());
    assert.equal(socket.getProtocol(), version);
    assert.equal(socket.authorized, true);
    assert.equal(
      socket.getPeerX509Certificate()?.fingerprint256,
      new (await import('node:crypto')).X509Certificate(serverCert.certPem).fingerprint256,
    );
  });
}

test('one key in the token proves possession twice: to the STS (exchange) and to the resource (bound fetch)', async (t) => {
  const sts = await startSts(t, pki, {
    policy: policyForTokenAlice(),
    tls: { ca: pki.ca.certPem, cert: serverCert.certPem, key: serverKey },
  });
  const keys = await loadJwksSource(`${sts.url}/.well-known/jwks.json`, { ca: pki.ca.certPem });
  const verifier = createBoundTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE });
  const resource = createHttpsServer(
    serverTlsOptions({ ca: pki.ca.certPem, cert: serverCert.certPem, key: serverKey }),
    protect((_req, res, auth) => void res.end(`hello ${auth.subject} ${auth.thumbprint}`), { verifier }),
  );
  resource.listen(0, '127.0.0.1');
  await once(resource, 'listening');
  t.after(() => resource.close());
  const agent = createMtlsAgent({ ca: pki.ca.certPem, cert: aliceCert.certPem, key: aliceKey });
  t.after(() => agent.close());
  const tokenSource = createTokenSource({ stsUrl: sts.url, agent, subjectToken: ALICE_SECRET, audience: AUDIENCE });
  t.after(() => tokenSource.close());
  const boundFetch = createBoundFetch({ tokenSource, agent });
  const response = await boundFetch(`https://127.0.0.1:${(resource.address() as AddressInfo).port}/`);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), `hello alice ${aliceCert.thumbprint}`);
  // The same token from another certificate (the software alice) is refused: the binding holds.
  const other = createMtlsAgent({ ca: pki.ca.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem });
  t.after(() => other.close());
  const stolen = await request(`https://127.0.0.1:${(resource.address() as AddressInfo).port}/`, {
    headers: { authorization: `Bearer ${await tokenSource.getToken()}` },
    dispatcher: other,
  });
  await stolen.body.dump();
  assert.equal(stolen.statusCode, 401);
});

test('gRPC: STS call credentials and the channel both present alice’s key in the token', async (t) => {
  const sts = await startSts(t, pki, {
    policy: policyForTokenAlice(),
    tls: { ca: pki.ca.certPem, cert: serverCert.certPem, key: serverKey },
  });
  const keys = await loadJwksSource(`${sts.url}/.well-known/jwks.json`, { ca: pki.ca.certPem });
  const server = await startInterceptedServer(t, pki, { verifier: createBoundTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE }) });
  const stsCredentials = createStsCredentials({
    stsUrl: sts.url,
    tls: { ca: pki.ca.certPem, cert: aliceCert.certPem, key: aliceKey },
    subjectToken: ALICE_SECRET,
    audience: AUDIENCE,
  });
  t.after(() => stsCredentials.close());
  const client = echoClient(t, server.target, stsCredentials.channelCredentials);
  const outcome = await callUnary(client);
  assert.equal(outcome.code, 0, outcome.details);
  assert.deepEqual(outcome.replies, ['alice']);
  // A channel with another certificate carrying alice's token is refused.
  const otherChannel = credentials.createSsl(Buffer.from(pki.ca.certPem), Buffer.from(pki.alice.keyPem), Buffer.from(pki.alice.certPem));
  const stolen = await callUnary(echoClient(t, server.target, otherChannel), bearer(await stsCredentials.tokens.getToken()));
  assert.equal(stolen.code, 16);
});

test('a SIGHUP-style reload with the key in the token keeps serving (setSecureContext rebuilds through the engine)', async (t) => {
  const sts = await startSts(t, pki, {
    policy: policyForTokenAlice(),
    tls: { ca: pki.ca.certPem, cert: serverCert.certPem, key: serverKey },
  });
  const agent = createMtlsAgent({ ca: pki.ca.certPem, cert: aliceCert.certPem, key: aliceKey });
  t.after(() => agent.close());
  const files = await loadTlsFiles({
    ca: await fileWith('ca.crt', pki.ca.certPem),
    cert: await fileWith('server.crt', serverCert.certPem),
    key: uri('server'),
    openKey: pkcs11KeyOpener({ module: SOFTHSM_MODULE, pinFile: await fileWith('pin', `${token.pin}\n`) }),
  });
  assert.equal(files.key, serverKey, 'the reload finds the key already open');
  for (let round = 0; round < 3; round++) {
    (sts as unknown as { server: { setSecureContext(options: object): void } }).server.setSecureContext(
      (await import('../../src/server/tls.js')).serverSecureContext(files),
    );
    const answer = await postToken(agent, sts.url, exchangeRequest());
    assert.equal(answer.status, 200, `round ${round}: ${JSON.stringify(answer.body)}`);
  }
});

test('a certificate that is not the key’s, a missing engine: refused before anything listens, naming the fix', async () => {
  await assert.rejects(
    loadTlsFiles({
      ca: await fileWith('ca.crt', pki.ca.certPem),
      cert: await fileWith('alice.crt', pki.alice.certPem),
      key: uri('alice'),
      openKey: pkcs11KeyOpener({ module: SOFTHSM_MODULE, pinFile: await fileWith('pin', token.pin) }),
    }),
    /the key in the PKCS#11 token does not match the certificate in .*alice\.crt/,
  );
  await assert.rejects(
    loadTlsFiles({ ca: await fileWith('ca.crt', pki.ca.certPem), cert: await fileWith('a.crt', aliceCert.certPem), key: uri('alice') }),
    /a key in a PKCS#11 token is not accepted here/,
  );
  assert.throws(
    () => prepareEngine(SOFTHSM_MODULE, { OPENSSL_ENGINES: '/nonexistent' }),
    /OPENSSL_ENGINES=\/nonexistent has no pkcs11\.so/,
  );
  assert.throws(() => prepareEngine('/usr/lib/other-module.so', {}), /serves one PKCS#11 module per process and uses .*libsofthsm2\.so/);
});

let scratch: string | undefined;
async function fileWith(name: string, content: string): Promise<string> {
  scratch ??= await mkdtemp(join(tmpdir(), 'certbound-pkcs11-tls-'));
  const path = join(scratch, name);
  await writeFile(path, content);
  return path;
}
