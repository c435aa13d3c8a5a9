import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { ecdsaDerToJose } from '../../src/core/signing/ecdsa.js';

/** Bytes of r and of s (RFC 7518 §3.4). */
const ECDSA_COMPONENT_BYTES = { ES256: 32, ES384: 48, ES512: 66 } as const;

const curves = [
  { alg: 'ES256', curve: 'P-256', digest: 'sha256' },
  { alg: 'ES384', curve: 'P-384', digest: 'sha384' },
  { alg: 'ES512', curve: 'P-521', digest: 'sha512' },
] as const;

/** The INTEGER lengths inside a DER ECDSA-Sig-Value. */
function integerLengths(der: Buffer): [number, number] {
  const offset = der[1] === 0x81 ? 3 : 2;
  const r = der[offset + 1] as number;
  return [r, der[offset + 2 + r + 1] as number];
}

describe('ecdsaDerToJose: RFC 7518 §3.4 r || s from DER', () => {
  for (const { alg, curve, digest } of curves) {
    const size = ECDSA_COMPONENT_BYTES[alg];
    test(`${alg}: short integers, sign-byte integers and P-521's long-form length all verify as ieee-p1363`, () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const data = Buffer.from(`eyJhbGciOiJ${alg}.payload`);
      const seen = { short: false, signByte: alg === 'ES512', longForm: alg !== 'ES512' };
      // Until every shape has come up: a short integer has odds 1/128 per signature (1/2 on P-521).
      for (let i = 0; i < 5000 && !(seen.short && seen.signByte && seen.longForm); i++) {
        const der = sign(digest, data, privateKey);
        const raw = ecdsaDerToJose(der, alg);
        assert.equal(raw.length, 2 * size);
        assert.equal(verify(digest, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw), true);
        const lengths = integerLengths(der);
        if (lengths.some((length) => length < size)) seen.short = true;
        if (lengths.some((length) => length > size)) seen.signByte = true;
        if (der[1] === 0x81) seen.longForm = true;
      }
      assert.deepEqual(seen, { short: true, signByte: true, longForm: true });
    });
  }

  test('small integers are left-padded to the curve size', () => {
    const raw = ecdsaDerToJose(Uint8Array.of(0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80), 'ES256');
    assert.deepEqual([...raw], [...new Array(31).fill(0), 0x01, ...new Array(31).fill(0), 0x80]);
  });

  test('what is not an ECDSA-Sig-Value throws rather than signing garbage', () => {
    const good = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02];
    const bad: [string, number[]][] = [
      ['not a SEQUENCE', [0x31, ...good.slice(1)]],
      ['a BIT STRING for r', [0x30, 0x06, 0x03, 0x01, 0x01, 0x02, 0x01, 0x02]],
      ['truncated', good.slice(0, -1)],
      ['a trailing byte', [...good, 0x00]],
      ['one integer only', [0x30, 0x03, 0x02, 0x01, 0x01]],
      ['empty', []],
    ];
    for (const [name, bytes] of bad) {
      assert.throws(() => ecdsaDerToJose(Uint8Array.from(bytes), 'ES256'), Error, name);
    }
    assert.equal(ecdsaDerToJose(Uint8Array.from(good), 'ES256').length, 64);
  });
});
