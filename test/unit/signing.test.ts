import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, jwtVerify } from 'jose';
import { buildAccessTokenClaims } from '../../src/core/claims.js';
import { algorithmForKey, createSigningKey } from '../../src/core/signing/signer.js';
import { signAccessToken } from '../../src/core/signing/jws.js';
import type { AsymmetricAlgorithm } from '../../src/core/rfc.js';

const THUMBPRINT = 'vXOFZVZb3eGyh59HzEMNU_v6tAAeZNUmep6-1B53AVk';

const keys = {
  p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  p521: generateKeyPairSync('ec', { namedCurve: 'P-521' }),
  rsa2048: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  rsa1024: generateKeyPairSync('rsa', { modulusLength: 1024 }),
  ed25519: generateKeyPairSync('ed25519'),
  secp256k1: generateKeyPairSync('ec', { namedCurve: 'secp256k1' }),
  x25519: generateKeyPairSync('x25519'),
};

const cases: { name: string; privateKey: KeyObject; requested?: AsymmetricAlgorithm; alg: AsymmetricAlgorithm }[] = [
  { name: 'P-256', privateKey: keys.p256.privateKey, alg: 'ES256' },
  { name: 'P-384', privateKey: keys.p384.privateKey, alg: 'ES384' },
  { name: 'P-521', privateKey: keys.p521.privateKey, alg: 'ES512' },
  { name: 'RSA-2048', privateKey: keys.rsa2048.privateKey, alg: 'RS256' },
  { name: 'RSA-2048 asked for PS256', privateKey: keys.rsa2048.privateKey, requested: 'PS256', alg: 'PS256' },
  { name: 'Ed25519', privateKey: keys.ed25519.privateKey, alg: 'EdDSA' },
];

function claims() {
  return buildAccessTokenClaims({
    issuer: 'https://sts.domain.com',
    subject: 'alice',
    audience: ['https://server.domain.com:8443'],
    clientId: 'alice',
    scope: ['read'],
    thumbprint: THUMBPRINT,
    lifetimeSeconds: 300,
    issuedAt: Math.floor(Date.now() / 1000),
    jti: 'jti-1',
  });
}

describe('algorithmForKey', () => {
  for (const { name, privateKey, requested, alg } of cases) {
    test(`RFC 7518 §3.1 ${name} signs with ${alg}`, () => {
      assert.equal(algorithmForKey(privateKey, requested), alg);
    });
  }

  test('RFC 7518 §3.3 an RSA key may ask for RS384/RS512/PS384/PS512', () => {
    for (const alg of ['RS384', 'RS512', 'PS384', 'PS512'] as const) {
      assert.equal(algorithmForKey(keys.rsa2048.privateKey, alg), alg);
    }
  });

  test('RFC 7518 §3.3 RSA keys under 2048 bits are refused', () => {
    assert.throws(() => algorithmForKey(keys.rsa1024.privateKey), {
      name: 'TypeError',
      message: 'RSA signing keys must be at least 2048 bits',
    });
  });

  test('an algorithm that does not fit the key (P-256 asked for RS256, ES384) is refused', () => {
    assert.throws(() => algorithmForKey(keys.p256.privateKey, 'RS256'), {
      name: 'TypeError',
      message: 'algorithm RS256 does not fit a ec key',
    });
    assert.throws(() => algorithmForKey(keys.p256.privateKey, 'ES384'), TypeError);
    assert.throws(() => algorithmForKey(keys.ed25519.privateKey, 'ES256'), TypeError);
    assert.throws(() => algorithmForKey(keys.rsa2048.privateKey, 'EdDSA'), TypeError);
  });

  test('unsupported curves and key types are refused', () => {
    assert.throws(() => algorithmForKey(keys.secp256k1.privateKey), TypeError);
    assert.throws(() => algorithmForKey(keys.x25519.privateKey), TypeError);
  });
});

describe('createSigningKey', () => {
  for (const { name, privateKey, requested, alg } of cases) {
    test(`${name}: alg ${alg}, RFC 7638 thumbprint kid, public JWK without "d"`, async () => {
      const key = await createSigningKey(requested === undefined ? { privateKey } : { privateKey, alg: requested });
      assert.equal(key.alg, alg);
      const independentJwk = await exportJWK(privateKey);
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicPart } = independentJwk;
      assert.equal(key.kid, await calculateJwkThumbprint(publicPart, 'sha256'));
      assert.equal(key.publicJwk.kid, key.kid);
      assert.equal(key.publicJwk.alg, alg);
      assert.equal(key.publicJwk.use, 'sig');
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
        assert.equal(secret in key.publicJwk, false, `public JWK must not contain "${secret}"`);
      }
      assert.equal(key.privateKey.type, 'private');
    });
  }

  test('RFC 7638 §3.1 kid equals jose calculateJwkThumbprint of the public JWK', async () => {
    const key = await createSigningKey({ privateKey: keys.p256.privateKey });
    const publicJwk = await exportJWK(keys.p256.publicKey);
    assert.equal(key.kid, await calculateJwkThumbprint(publicJwk));
    assert.match(key.kid, /^[A-Za-z0-9_-]{43}$/);
  });

  test('an explicit kid is used as given', async () => {
    const key = await createSigningKey({ privateKey: keys.p256.privateKey, kid: 'key-2025' });
    assert.equal(key.kid, 'key-2025');
    assert.equal(key.publicJwk.kid, 'key-2025');
  });

  test('PEM input (PKCS#8, SEC1, PKCS#1) is accepted, as string or Buffer', async () => {
    const pkcs8 = keys.p256.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const sec1 = keys.p256.privateKey.export({ format: 'pem', type: 'sec1' }) as string;
    const pkcs1 = keys.rsa2048.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string;
    const expected = await createSigningKey({ privateKey: keys.p256.privateKey });
    assert.equal((await createSigningKey({ privateKey: pkcs8 })).kid, expected.kid);
    assert.equal((await createSigningKey({ privateKey: Buffer.from(sec1) })).kid, expected.kid);
    assert.equal((await createSigningKey({ privateKey: pkcs1 })).alg, 'RS256');
  });

  test('RFC 7518 §3.3 refuses RSA-1024', async () => {
    await assert.rejects(createSigningKey({ privateKey: keys.rsa1024.privateKey }), {
      name: 'TypeError',
      message: 'RSA signing keys must be at least 2048 bits',
    });
  });

  test('refuses a P-256 key asked for RS256', async () => {
    await assert.rejects(createSigningKey({ privateKey: keys.p256.privateKey, alg: 'RS256' }), TypeError);
  });

  test('refuses a public key (KeyObject or PEM)', async () => {
    await assert.rejects(createSigningKey({ privateKey: keys.p256.publicKey }), {
      name: 'TypeError',
      message: 'signing key must be a private key',
    });
    const publicPem = keys.p256.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    await assert.rejects(createSigningKey({ privateKey: publicPem }), TypeError);
  });

  test('refuses text that is not a key', async () => {
    await assert.rejects(createSigningKey({ privateKey: 'not a key' }), {
      name: 'TypeError',
      message: 'signing key is not a readable private key (PEM)',
    });
  });
});

describe('signAccessToken', () => {
  for (const { name, privateKey, requested, alg } of cases) {
    test(`RFC 9068 §2.1 ${name}: header typ at+jwt, kid, alg ${alg}; verifies with jose against the public JWK`, async () => {
      const key = await createSigningKey(requested === undefined ? { privateKey } : { privateKey, alg: requested });
      const token = await signAccessToken(claims(), key);
      const header = decodeProtectedHeader(token);
      assert.deepEqual(header, { alg, kid: key.kid, typ: 'at+jwt' });
      const { payload, protectedHeader } = await jwtVerify(token, key.publicJwk, {
        algorithms: [alg],
        typ: 'at+jwt',
        issuer: 'https://sts.domain.com',
        audience: 'https://server.domain.com:8443',
      });
      assert.equal(protectedHeader.alg, alg);
      assert.equal(payload.sub, 'alice');
      assert.equal(payload.client_id, 'alice');
      assert.equal(payload.scope, 'read');
      assert.equal(payload.jti, 'jti-1');
      assert.deepEqual(payload.cnf, { 'x5t#S256': THUMBPRINT });
      assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 300);
    });
  }

  test('a token does not verify under a different key of the same type', async () => {
    const key = await createSigningKey({ privateKey: keys.p256.privateKey });
    const other = await createSigningKey({ privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey });
    const token = await signAccessToken(claims(), key);
    await assert.rejects(jwtVerify(token, other.publicJwk), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });
});
