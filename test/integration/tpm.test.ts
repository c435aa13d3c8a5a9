// Keys in a (software) TPM through tpm2-pkcs11: swtpm behind the tpm2-abrmd resource manager, a
// token made with tpm2_ptool, keys made in it by certbound. The STS signs with one, alice's TLS
// key is another; the TPM is stopped mid-run and started again, and the STS recovers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createMtlsAgent } from '../../src/client/mtls-agent.js';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import { loadJwksSource } from '../../src/keys/jwks-source.js';
import { generateKeyInToken, keyProtection } from '../../src/keys/pkcs11-keygen.js';
import { openPkcs11Signer, type Pkcs11Signer } from '../../src/keys/pkcs11-signer.js';
import { openPkcs11TlsKey } from '../../src/keys/pkcs11-tls-key.js';
import { issueCertificate } from '../../src/pki/generate.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, AUDIENCE, exchangeRequest, ISSUER, postToken, startSts, testPolicy } from '../helpers/servers.js';
import { startSoftwareTpm, TPM2_PKCS11_MODULE, type SoftwareTpm } from '../helpers/tpm.js';

let pki: TestPki;
let tpm: SoftwareTpm;
let signer: Pkcs11Signer;
const where = () => ({ module: TPM2_PKCS11_MODULE, pin: tpm.pin });
const uri = (object: string): string => `pkcs11:token=${tpm.label};object=${object};type=private`;

before(async () => {
  pki = await createTestPki();
  tpm = await startSoftwareTpm();
  await generateKeyInToken({ ...where(), token: tpm.label, label: 'sts-signing', kind: 'ec' });
  await generateKeyInToken({ ...where(), token: tpm.label, label: 'alice-tls', kind: 'ec' });
  signer = await openPkcs11Signer({ ...where(), uri: uri('sts-signing') });
});

after(async () => {
  signer?.close();
  await tpm?.remove();
});

test('the STS signs with a key in the TPM; tokens verify against the JWKS it publishes', async (t) => {
  const sts = await startSts(t, pki, { signingKey: signer });
  const answer = await postToken(agentFor(t, pki, pki.alice), sts.url, exchangeRequest());
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const accessToken = (answer.body as { access_token: string }).access_token;
  assert.equal(decodeProtectedHeader(accessToken).alg, 'ES256');
  assert.equal(signer.verifiesEachSignature, true, 'a TPM signer checks every signature by default');
  const keys = await loadJwksSource(`${sts.url}/.well-known/jwks.json`, { ca: pki.ca.certPem });
  const verified = await createBoundTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE }).verify(accessToken, pki.alice.thumbprint);
  assert.equal(verified.subject, 'alice');
});

test('the TPM stopped mid-run: the exchange fails with a logged reason, no crash; the TPM back: the next one succeeds', async (t) => {
  const sts = await startSts(t, pki, { signingKey: signer });
  const agent = agentFor(t, pki, pki.alice);
  assert.equal((await postToken(agent, sts.url, exchangeRequest())).status, 200);
  await tpm.stop();
  const during = await postToken(agent, sts.url, exchangeRequest());
  assert.equal(during.status, 500, JSON.stringify(during.body));
  assert.equal(during.body.error, 'server_error');
  const logged = sts.events.find((event) => event.type === 'server.error');
  assert.match(logged?.type === 'server.error' ? logged.detail : '', /CKR_GENERAL_ERROR/, 'the reason is logged as server.error');
  await tpm.start();
  const back = await postToken(agent, sts.url, exchangeRequest());
  assert.equal(back.status, 200, JSON.stringify(back.body));
});

// Last: OpenSSL's pkcs11 engine then shares the module, which certbound will not start afresh under it.
test("alice's TLS key in the TPM proves possession at the STS; the TPM will not give it up", async (t) => {
  const aliceKey = await openPkcs11TlsKey({ ...where(), uri: uri('alice-tls') });
  const aliceCert = await issueCertificate(pki.ca, { commonName: 'alice', usage: 'client', publicKey: aliceKey.publicKey });
  const sts = await startSts(t, pki, { policy: testPolicy({ ...pki, alice: aliceCert }) });
  const agent = createMtlsAgent({ ca: pki.ca.certPem, cert: aliceCert.certPem, key: aliceKey });
  t.after(() => agent.close());
  const answer = await postToken(agent, sts.url, exchangeRequest());
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.deepEqual(decodeJwt((answer.body as { access_token: string }).access_token).cnf, { 'x5t#S256': aliceCert.thumbprint });
  const protection = await keyProtection({ ...where(), uri: uri('alice-tls') });
  assert.equal(protection.extractable, false);
  assert.equal(protection.exportRefused, true);
  // The TPM gone: the handshake cannot be signed, the request fails with an error, nothing crashes.
  await tpm.stop();
  const fresh = createMtlsAgent({ ca: pki.ca.certPem, cert: aliceCert.certPem, key: aliceKey });
  t.after(() => fresh.close());
  await assert.rejects(postToken(fresh, sts.url, exchangeRequest()), /PKCS#11 module/);
  await tpm.start();
});
