import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createPublicKey, generateKeyPairSync, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import { buildAccessTokenClaims } from '../../src/core/claims.js';
import { signAccessToken } from '../../src/core/signing/jws.js';
import { createSigningKey, type Signer } from '../../src/core/signing/signer.js';
import type { AsymmetricAlgorithm } from '../../src/core/rfc.js';

const THUMBPRINT = 'vXOFZVZb3eGyh59HzEMNU_v6tAAeZNUmep6-1B53AVk';
const ISSUER = 'https://sts.domain.com';
const AUDIENCE = 'https://server.domain.com:8443';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
/** Every algorithm family, with the signature length RFC 7518 fixes (RSA: the modulus size). */
const cases: { alg: AsymmetricAlgorithm; privateKey: KeyObject; signatureBytes: number }[] = [
  { alg: 'ES256', privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, signatureBytes: 64 },
  { alg: 'ES384', privateKey: generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, signatureBytes: 96 },
  { alg: 'ES512', privateKey: generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey, signatureBytes: 132 },
  { alg: 'RS256', privateKey: rsa, signatureBytes: 256 },
  { alg: 'PS256', privateKey: rsa, signatureBytes: 256 },
  { alg: 'EdDSA', privateKey: generateKeyPairSync('ed25519').privateKey, signatureBytes: 64 },
];

function claims(subject = 'alice') {
  return buildAccessTokenClaims({
    issuer: ISSUER,
    subject,
    audience: [AUDIENCE],
    clientId: 'alice',
    scope: ['read', 'write'],
    thumbprint: THUMBPRINT,
    lifetimeSeconds: 300,
    issuedAt: Math.floor(Date.now() / 1000),
    jti: 'jti-1',
  });
}

function parts(token: string): { header: string; payload: string; signature: Buffer; signingInput: string } {
  const segments = token.split('.');
  assert.equal(segments.length, 3, 'RFC 7515 §7.1: three parts');
  const [header, payload, signature] = segments as [string, string, string];
  for (const segment of segments) assert.match(segment, /^[A-Za-z0-9_-]+$/, 'RFC 7515 §2: base64url without padding');
  return {
    header: Buffer.from(header, 'base64url').toString('utf8'),
    payload: Buffer.from(payload, 'base64url').toString('utf8'),
    signature: Buffer.from(signature, 'base64url'),
    signingInput: `${header}.${payload}`,
  };
}

/** node:crypto's own check, against the published JWK (not the private key's KeyObject). */
function nodeVerifies(alg: AsymmetricAlgorithm, publicJwk: object, signingInput: string, signature: Buffer): boolean {
  const key = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
  const data = Buffer.from(signingInput, 'ascii');
  if (alg === 'EdDSA') return verify(null, data, key, signature);
  const digest = `sha${alg.slice(2)}`;
  if (alg.startsWith('ES')) return verify(digest, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  // RFC 7518 §3.5: the salt is exactly as long as the hash, not "whatever verifies".
  if (alg.startsWith('PS')) return verify(digest, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature);
  return verify(digest, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
}

async function joseVerifies(token: string, signer: Signer) {
  return jwtVerify(token, signer.publicJwk, { algorithms: [signer.alg], typ: 'at+jwt', issuer: ISSUER, audience: AUDIENCE });
}

/** A stand-in for a hardware module: the key sits behind an async sign; results come as plain Uint8Arrays. */
function moduleSigner(
  software: Signer & { privateKey: KeyObject },
  tamper: (signature: Uint8Array) => Uint8Array = (s) => s,
): Signer & { inputs: Uint8Array[] } {
  const inputs: Uint8Array[] = [];
  return {
    alg: software.alg,
    kid: software.kid,
    publicJwk: software.publicJwk,
    inputs,
    async sign(signingInput) {
      inputs.push(signingInput);
      const signature = await Promise.resolve(software.sign(signingInput));
      // A view into a larger buffer, as a driver's output buffer may be: only the view is the signature.
      const backing = new Uint8Array(signature.length + 16).fill(0xaa);
      backing.set(signature, 8);
      return tamper(backing.subarray(8, 8 + signature.length));
    },
  };
}

describe('signAccessToken: RFC 7515 §7.1 compact serialization', () => {
  for (const { alg, privateKey, signatureBytes } of cases) {
    test(`${alg}: header exactly {alg,kid,typ}, payload the claims' JSON, verifies with jose and node:crypto`, async () => {
      const key = await createSigningKey({ privateKey, alg });
      const tokenClaims = claims();
      const token = await signAccessToken(tokenClaims, key);
      const { header, payload, signature, signingInput } = parts(token);
      assert.equal(header, `{"alg":"${alg}","kid":"${key.kid}","typ":"at+jwt"}`);
      assert.equal(payload, JSON.stringify(tokenClaims));
      assert.equal(signature.length, signatureBytes, `RFC 7518 §3: ${alg} signature length`);
      assert.equal(nodeVerifies(alg, key.publicJwk, signingInput, signature), true);
      const { payload: verified, protectedHeader } = await joseVerifies(token, key);
      assert.deepEqual(protectedHeader, { alg, kid: key.kid, typ: 'at+jwt' });
      assert.deepEqual(verified, tokenClaims);
    });
  }

  test('RFC 7515 §5.1 the signer is handed exactly the ASCII bytes of header.payload', async () => {
    const signer = moduleSigner(await createSigningKey({ privateKey: rsa }));
    const token = await signAccessToken(claims(), signer);
    assert.equal(signer.inputs.length, 1);
    assert.equal(Buffer.from(signer.inputs[0] as Uint8Array).toString('latin1'), parts(token).signingInput);
  });

  test('RFC 8259 §8.1 non-ASCII claims are UTF-8 in the payload and round-trip through jose', async () => {
    const key = await createSigningKey({ privateKey: cases[0]?.privateKey as KeyObject });
    const token = await signAccessToken(claims('zoë-𝔘'), key);
    assert.equal(JSON.parse(parts(token).payload).sub, 'zoë-𝔘');
    assert.equal((await joseVerifies(token, key)).payload.sub, 'zoë-𝔘');
  });
});

describe('signAccessToken with a Signer that is not a KeyObject (a hardware module)', () => {
  for (const { alg, privateKey } of cases) {
    test(`${alg}: an async sign returning a Uint8Array view makes a token jose and node:crypto accept`, async () => {
      const signer = moduleSigner(await createSigningKey({ privateKey, alg }));
      const token = await signAccessToken(claims(), signer);
      const { header, signature, signingInput } = parts(token);
      assert.equal(header, `{"alg":"${alg}","kid":"${signer.kid}","typ":"at+jwt"}`);
      assert.equal(nodeVerifies(alg, signer.publicJwk, signingInput, signature), true);
      assert.equal((await joseVerifies(token, signer)).payload.sub, 'alice');
    });
  }

  test('a Signer with no private key anywhere: sign() is all signAccessToken uses', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const hidden: Signer = {
      alg: 'EdDSA',
      kid: 'hsm-1',
      publicJwk: { ...publicKey.export({ format: 'jwk' }), kid: 'hsm-1', alg: 'EdDSA', use: 'sig' },
      sign: async (signingInput) => new Uint8Array(sign(null, signingInput, privateKey)),
    };
    const token = await signAccessToken(claims(), hidden);
    assert.equal(parts(token).header, '{"alg":"EdDSA","kid":"hsm-1","typ":"at+jwt"}');
    assert.equal((await joseVerifies(token, hidden)).protectedHeader.kid, 'hsm-1');
  });

  test('a copy of a createSigningKey key with another alg or key refuses to sign; another kid is fine', async () => {
    const key = await createSigningKey({ privateKey: cases[0]?.privateKey as KeyObject });
    await assert.rejects(signAccessToken(claims(), { ...key, alg: 'RS256' }), {
      name: 'TypeError',
      message: /made for ES256, asked for RS256/,
    });
    await assert.rejects(signAccessToken(claims(), { ...key, alg: 'ES384' }), TypeError);
    const rekeyed = { ...key, privateKey: rsa };
    await assert.rejects(signAccessToken(claims(), rekeyed), TypeError);
    const renamed = { ...key, kid: 'renamed', publicJwk: { ...key.publicJwk, kid: 'renamed' } };
    assert.equal((await joseVerifies(await signAccessToken(claims(), renamed), renamed)).protectedHeader.kid, 'renamed');
  });

  test('a rejecting sign() rejects signAccessToken with the same error', async () => {
    const key = await createSigningKey({ privateKey: cases[0]?.privateKey as KeyObject });
    const failure = new Error('CKR_DEVICE_REMOVED');
    await assert.rejects(signAccessToken(claims(), { ...key, sign: async () => Promise.reject(failure) }), (error) => error === failure);
  });
});

describe('signAccessToken does not check the signature: a wrong one makes a token jose refuses', () => {
  const flipLastBit = (signature: Uint8Array) => {
    const copy = new Uint8Array(signature);
    copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 0x01;
    return copy;
  };
  const tampering: { name: string; tamper: (signature: Uint8Array) => Uint8Array }[] = [
    { name: 'one bit flipped', tamper: flipLastBit },
    { name: 'one byte short', tamper: (signature) => signature.subarray(0, signature.length - 1) },
    { name: 'one byte too many', tamper: (signature) => Uint8Array.of(...signature, 0) },
    { name: 'empty', tamper: () => new Uint8Array(0) },
  ];
  for (const { alg, privateKey } of cases) {
    for (const { name, tamper } of tampering) {
      test(`${alg}: signature ${name}`, async () => {
        const key = await createSigningKey({ privateKey, alg });
        const token = await signAccessToken(claims(), moduleSigner(key, tamper));
        const [header, payload, signature] = token.split('.') as [string, string, string];
        assert.equal(
          nodeVerifies(alg, key.publicJwk, `${header}.${payload}`, Buffer.from(signature, 'base64url')),
          false,
          'node:crypto refuses it too',
        );
        await assert.rejects(joseVerifies(token, key), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
      });
    }
  }

  test('ES256: a DER-encoded ECDSA signature (the classic mistake) is refused', async () => {
    const key = await createSigningKey({ privateKey: cases[0]?.privateKey as KeyObject });
    const der: Signer = { ...key, sign: (signingInput) => sign('sha256', signingInput, { key: key.privateKey, dsaEncoding: 'der' }) };
    const token = await signAccessToken(claims(), der);
    assert.notEqual(parts(token).signature.length, 64);
    await assert.rejects(joseVerifies(token, key), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });
});
