// The STS signs with a key that never leaves a PKCS#11 token: a real SoftHSM2 token made for this
// file, a real STS over mutual TLS, tokens checked with the JWKS the STS publishes.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import { loadJwksSource } from '../../src/keys/jwks-source.js';
import { addKeystoreKey, openKeystore } from '../../src/keys/keystore.js';
import { generateKeyInToken, keyProtection } from '../../src/keys/pkcs11-keygen.js';
import { openPkcs11Signer } from '../../src/keys/pkcs11-signer.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, AUDIENCE, exchangeRequest, ISSUER, postToken, startSts } from '../helpers/servers.js';
import { createSoftHsmToken, generateKeyPair, SOFTHSM_MODULE, type SoftHsmToken } from '../helpers/softhsm.js';

let pki: TestPki;
let token: SoftHsmToken;
const uri = (object: string, extra = ''): string => `pkcs11:token=${token.label};object=${object};type=private${extra}`;

before(async () => {
  pki = await createTestPki();
  token = await createSoftHsmToken();
  await generateKeyPair(token, 'ec', 'sts-ec');
  await generateKeyPair(token, 'rsa', 'sts-rsa');
  await generateKeyPair(token, 'ed25519', 'sts-ed');
});

after(() => token.remove());

for (const [object, alg] of [
  ['sts-ec', 'ES256'],
  ['sts-rsa', 'RS256'],
  ['sts-ed', 'EdDSA'],
] as const) {
  test(`${alg}: the STS signs with the token's ${object} key; the token verifies against the JWKS it publishes`, async (t) => {
    const signer = await openPkcs11Signer({ uri: uri(object), module: SOFTHSM_MODULE, pin: token.pin, verifyEachSignature: true });
    t.after(() => signer.close());
    assert.equal(signer.alg, alg);
    const sts = await startSts(t, pki, { signingKey: signer });
    const answer = await postToken(agentFor(t, pki, pki.alice), sts.url, exchangeRequest());
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const accessToken = (answer.body as { access_token: string }).access_token;
    assert.deepEqual(decodeProtectedHeader(accessToken), { alg, kid: signer.kid, typ: 'at+jwt' });
    const keys = await loadJwksSource(`${sts.url}/.well-known/jwks.json`, { ca: pki.ca.certPem });
    const verifier = createBoundTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE });
    const verified = await verifier.verify(accessToken, pki.alice.thumbprint);
    assert.equal(verified.subject, 'alice');
    // The published key is the token's public key and nothing more.
    assert.equal(signer.publicJwk.d, undefined);
  });
}

test('the private keys are sensitive and not extractable: the token refuses to give their value', () => {
  token.withSession((p11, session) => {
    p11.C_FindObjectsInit(session, [{ type: 0 /* CKA_CLASS */, value: 3 /* CKO_PRIVATE_KEY */ }]);
    const keys = p11.C_FindObjects(session, 10);
    p11.C_FindObjectsFinal(session);
    assert.equal(keys.length, 3);
    for (const key of keys) {
      const [extractable, keyType] = p11.C_GetAttributeValue(session, key, [
        { type: 0x162 /* CKA_EXTRACTABLE */ },
        { type: 0x100 /* CKA_KEY_TYPE */ },
      ]);
      assert.deepEqual([...(extractable?.value ?? [])], [0], 'CKA_EXTRACTABLE is false');
      // The secret part: CKA_PRIVATE_EXPONENT of an RSA key, CKA_VALUE of an EC or Ed25519 key.
      const secret = keyType?.value[0] === 0 /* CKK_RSA */ ? 0x123 : 0x11;
      assert.throws(() => p11.C_GetAttributeValue(session, key, [{ type: secret }]), /CKR_ATTRIBUTE_SENSITIVE/);
    }
  });
});

test('the PIN comes from a file (its final newline dropped) or CERTBOUND_PKCS11_PIN, never from the URI', async (t) => {
  const pinFile = join(token.dir, 'pin');
  await writeFile(pinFile, `${token.pin}\n`);
  const fromFile = await openPkcs11Signer({ uri: uri('sts-ec', `?pin-source=${pinFile}`), module: SOFTHSM_MODULE });
  t.after(() => fromFile.close());
  const fromEnv = await openPkcs11Signer({
    uri: uri('sts-ec'),
    env: { PKCS11_MODULE_PATH: SOFTHSM_MODULE, CERTBOUND_PKCS11_PIN: token.pin },
  });
  t.after(() => fromEnv.close());
  assert.equal(fromFile.kid, fromEnv.kid);
  assert.equal(fromEnv.verifiesEachSignature, false, 'SoftHSM: off unless asked');
  await assert.rejects(openPkcs11Signer({ uri: uri('sts-ec', '?pin-value=1234'), module: SOFTHSM_MODULE }), {
    code: 'CB_CONFIG_INVALID',
    message: /carries its PIN \(pin-value\): give it in a file/,
  });
});

test('bad input is one clear ConfigError or FileProblem, and nothing is left open', async () => {
  const cases: Array<[string, Parameters<typeof openPkcs11Signer>[0], RegExp]> = [
    [
      'a wrong PIN',
      { uri: uri('sts-ec'), module: SOFTHSM_MODULE, pin: '0000' },
      /login to token "certbound-test" failed: the PIN is wrong/,
    ],
    ['an unknown key', { uri: uri('nope'), module: SOFTHSM_MODULE, pin: token.pin }, /the PKCS#11 token has no private key nope/],
    [
      'an unknown token',
      { uri: 'pkcs11:token=other;object=sts-ec', module: SOFTHSM_MODULE, pin: token.pin },
      /no PKCS#11 token "other" \(tokens present: certbound-test\)/,
    ],
    [
      'a module that does not exist',
      { uri: uri('sts-ec'), module: '/nonexistent/libnothing.so', pin: token.pin },
      /libnothing\.so: cannot load the PKCS#11 module/,
    ],
    ['no module at all', { uri: uri('sts-ec'), pin: token.pin, env: {} }, /no PKCS#11 module: give "module"/],
    [
      'no PIN at all',
      { uri: uri('sts-ec'), module: SOFTHSM_MODULE, env: {} },
      /no PKCS#11 PIN: give --pkcs11-pin-file FILE \(library: "pin"\)/,
    ],
    ['a URI naming no key', { uri: `pkcs11:token=${token.label}`, module: SOFTHSM_MODULE, pin: token.pin }, /names no key/],
    ['not a PKCS#11 URI', { uri: 'file:/etc/key.pem', module: SOFTHSM_MODULE, pin: token.pin }, /not a PKCS#11 URI/],
  ];
  for (const [what, options, message] of cases) {
    await assert.rejects(openPkcs11Signer(options), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CB_CONFIG_INVALID', `${what}: ${error.message}`);
      assert.match(error.message, message, what);
      return true;
    });
  }
  // After all those failures the module is still usable: nothing was left initialised or logged in half-way.
  const signer = await openPkcs11Signer({ uri: uri('sts-ec'), module: SOFTHSM_MODULE, pin: token.pin });
  assert.equal(signer.alg, 'ES256');
  signer.close();
});

test('keys made by certbound in the token: the token reports them non-extractable and refuses their value; a label is never reused', async () => {
  const options = { module: SOFTHSM_MODULE, pin: token.pin };
  for (const object of ['sts-ec', 'sts-rsa', 'sts-ed']) {
    assert.deepEqual(
      await keyProtection({ ...options, uri: uri(object) }),
      { extractable: false, sensitive: true, exportRefused: true },
      object,
    );
  }
  await assert.rejects(
    generateKeyInToken({ ...options, token: token.label, label: 'sts-ec', kind: 'ec' }),
    /the PKCS#11 token "certbound-test" already holds a key labelled sts-ec/,
  );
});

test('a keystore in the token: rotation past a key’s expiry destroys it in the token, as it deletes a file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-keystore-token-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const pkcs11 = { token: token.label, module: SOFTHSM_MODULE, pin: token.pin };
  const now = 1_900_000_000;
  const first = await addKeystoreKey(dir, { now, pkcs11 });
  const index = async () =>
    JSON.parse(await readFile(join(dir, 'keystore.json'), 'utf8')) as { keys: Array<{ kid: string; pkcs11: string }> };
  const firstUri = (await index()).keys[0]?.pkcs11 as string;
  const keystore = await openKeystore(dir, { pkcs11: { module: SOFTHSM_MODULE, pin: token.pin } });
  t.after(() => keystore.close());
  assert.equal(keystore.signingKey(now)?.kid, first.kid);
  assert.equal(keystore.signingKey(now)?.publicJwk.d, undefined);
  await addKeystoreKey(dir, { now, pkcs11, publishAheadSeconds: 0, maxTokenLifetimeSeconds: 1 });
  assert.ok(
    (await index()).keys.some((key) => key.kid === first.kid),
    'retired, still published',
  );
  await addKeystoreKey(dir, { now: now + 3600, pkcs11, publishAheadSeconds: 0, maxTokenLifetimeSeconds: 1 });
  assert.ok(!(await index()).keys.some((key) => key.kid === first.kid), 'expired, gone from the index');
  await assert.rejects(
    openPkcs11Signer({ uri: firstUri, module: SOFTHSM_MODULE, pin: token.pin }),
    /the PKCS#11 token has no private key certbound-sts-/,
  );
  await assert.rejects(addKeystoreKey(dir, { now, pkcs11, alg: 'ES384' }), /keys in a PKCS#11 token are ES256, RS256, EdDSA/);
});

test('the token directory removed while the STS runs: one exchange fails with a logged reason; restored, the next succeeds', async (t) => {
  const signer = await openPkcs11Signer({ uri: uri('sts-ec'), module: SOFTHSM_MODULE, pin: token.pin });
  t.after(() => signer.close());
  const sts = await startSts(t, pki, { signingKey: signer });
  const agent = agentFor(t, pki, pki.alice);
  assert.equal((await postToken(agent, sts.url, exchangeRequest())).status, 200);
  await rename(token.dir, `${token.dir}.away`);
  try {
    const during = await postToken(agent, sts.url, exchangeRequest());
    assert.equal(during.status, 500, JSON.stringify(during.body));
    assert.equal(during.body.error, 'server_error');
    const logged = sts.events.find((event) => event.type === 'server.error');
    assert.match(logged?.type === 'server.error' ? logged.detail : '', /CKR_/);
  } finally {
    await rename(`${token.dir}.away`, token.dir);
  }
  const back = await postToken(agent, sts.url, exchangeRequest());
  assert.equal(back.status, 200, JSON.stringify(back.body));
});
