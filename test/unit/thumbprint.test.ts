import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  computeSha256Hex,
  computeThumbprint,
  isWellFormedThumbprint,
  thumbprintFromSha256Hex,
  thumbprintsEqual,
  toDer,
} from '../../src/core/thumbprint.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';

/** test/fixtures/known.crt, found from dist/test/unit/ or test/unit/ alike (both are three levels deep). */
const KNOWN_CRT = fileURLToPath(new URL('../../../test/fixtures/known.crt', import.meta.url));

/**
 * Known answer for test/fixtures/known.crt, computed once with:
 *   openssl x509 -in test/fixtures/known.crt -outform DER | openssl dgst -sha256 -binary | openssl base64 -A
 * which printed `vXOFZVZb3eGyh59HzEMNU/v6tAAeZNUmep6+1B53AVk=`; rewritten to base64url without padding
 * ('+' -> '-', '/' -> '_', '=' dropped) by hand.
 */
const KNOWN_THUMBPRINT = 'vXOFZVZb3eGyh59HzEMNU_v6tAAeZNUmep6-1B53AVk';
const KNOWN_THUMBPRINT_STD_BASE64 = 'vXOFZVZb3eGyh59HzEMNU/v6tAAeZNUmep6+1B53AVk=';
/** The same digest in hex: openssl x509 -in test/fixtures/known.crt -outform DER | openssl dgst -sha256 -hex */
const KNOWN_SHA256_HEX = 'bd738565565bdde1b2879f47cc430d53fbfab4001e64d5267a9ebed41e770159';

/** RFC 4648 §5: standard base64 → base64url without padding. */
function toBase64url(standard: string): string {
  return standard.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The openssl CLI pipeline, run with the certificate file given in PEM. */
function opensslThumbprint(pemPath: string): string {
  const der = execFileSync('openssl', ['x509', '-in', pemPath, '-outform', 'DER']);
  const digest = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der });
  return execFileSync('openssl', ['base64', '-A'], { input: digest }).toString('latin1').trim();
}

describe('computeThumbprint', () => {
  let pki: TestPki;
  let dir: string;
  before(async () => {
    pki = await createTestPki();
    dir = mkdtempSync(join(tmpdir(), 'certbound-thumbprint-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('RFC 8705 §3.1 x5t#S256 equals the openssl CLI SHA-256 of the DER, as base64url', () => {
    for (const [name, issued] of Object.entries({ alice: pki.alice, server: pki.server, ca: pki.ca })) {
      const path = join(dir, `${name}.crt`);
      writeFileSync(path, issued.certPem);
      const fromOpenssl = opensslThumbprint(path);
      assert.match(fromOpenssl, /^[A-Za-z0-9+/]{43}=$/, 'openssl prints padded standard base64');
      assert.equal(computeThumbprint(issued.certPem), toBase64url(fromOpenssl), `${name} (PEM)`);
      assert.equal(computeThumbprint(issued.der), toBase64url(fromOpenssl), `${name} (DER)`);
    }
  });

  test('RFC 8705 §3.1 known answer for test/fixtures/known.crt (openssl-computed)', () => {
    const pem = readFileSync(KNOWN_CRT, 'latin1');
    assert.equal(computeThumbprint(pem), KNOWN_THUMBPRINT);
    assert.equal(computeThumbprint(readFileSync(KNOWN_CRT)), KNOWN_THUMBPRINT, 'PEM given as bytes');
    assert.equal(toBase64url(KNOWN_THUMBPRINT_STD_BASE64), KNOWN_THUMBPRINT);
  });

  test('PEM text, PEM bytes and DER bytes give the same thumbprint', () => {
    const fromPem = computeThumbprint(pki.alice.certPem);
    assert.equal(computeThumbprint(Buffer.from(pki.alice.certPem, 'latin1')), fromPem);
    assert.equal(computeThumbprint(pki.alice.der), fromPem);
    assert.equal(computeThumbprint(new Uint8Array(pki.alice.der)), fromPem);
    assert.deepEqual(toDer(pki.alice.certPem), pki.alice.der);
  });

  test('the thumbprint is the SHA-256 of the DER (node:crypto cross-check)', () => {
    const expected = createHash('sha256').update(pki.bob.der).digest('base64url');
    assert.equal(computeThumbprint(pki.bob.der), expected);
  });

  test('RFC 8705 §3.1 x5t#S256 is base64url without padding: 43 chars, no "=", "+" or "/"', () => {
    for (const issued of [pki.alice, pki.bob, pki.server, pki.ca, pki.stranger, pki.expired]) {
      const thumbprint = computeThumbprint(issued.der);
      assert.equal(thumbprint.length, 43);
      assert.doesNotMatch(thumbprint, /[=+/]/);
      assert.match(thumbprint, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(isWellFormedThumbprint(thumbprint));
    }
  });

  test('different certificates have different thumbprints', () => {
    assert.notEqual(computeThumbprint(pki.alice.der), computeThumbprint(pki.bob.der));
    assert.notEqual(computeThumbprint(pki.alice.der), computeThumbprint(pki.stranger.der));
  });

  test('a PEM string that is not a certificate is a TypeError', () => {
    assert.throws(() => computeThumbprint('-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n'), TypeError);
    assert.throws(() => computeThumbprint('hello'), TypeError);
  });
});

describe('isWellFormedThumbprint', () => {
  const sha = createHash('sha256').update('certbound').digest();

  test('RFC 8705 §3.1 accepts 43 base64url characters', () => {
    assert.equal(isWellFormedThumbprint(sha.toString('base64url')), true);
    assert.equal(isWellFormedThumbprint(KNOWN_THUMBPRINT), true);
  });

  test('RFC 8705 §3.1 rejects the padded standard-base64 form', () => {
    assert.equal(isWellFormedThumbprint(sha.toString('base64')), false);
    assert.equal(isWellFormedThumbprint(KNOWN_THUMBPRINT_STD_BASE64), false);
    assert.equal(isWellFormedThumbprint(`${KNOWN_THUMBPRINT}=`), false, 'base64url with padding');
    assert.equal(isWellFormedThumbprint(KNOWN_THUMBPRINT_STD_BASE64.slice(0, 43)), false, 'standard alphabet without padding');
  });

  test('RFC 8705 §3.1 rejects the hex form', () => {
    assert.equal(isWellFormedThumbprint(sha.toString('hex')), false);
  });

  test('rejects wrong lengths and non-strings', () => {
    assert.equal(isWellFormedThumbprint(KNOWN_THUMBPRINT.slice(0, 42)), false);
    assert.equal(isWellFormedThumbprint(`${KNOWN_THUMBPRINT}A`), false);
    assert.equal(isWellFormedThumbprint(''), false);
    assert.equal(isWellFormedThumbprint(undefined), false);
    assert.equal(isWellFormedThumbprint(null), false);
    assert.equal(isWellFormedThumbprint(42), false);
    assert.equal(isWellFormedThumbprint({ 'x5t#S256': KNOWN_THUMBPRINT }), false);
    assert.equal(isWellFormedThumbprint(`${KNOWN_THUMBPRINT.slice(0, 42)}\n`), false, 'trailing newline');
  });
});

describe('computeSha256Hex', () => {
  test("Envoy XFCC Hash= known answer for test/fixtures/known.crt (openssl-computed), the thumbprint's digest", () => {
    assert.equal(computeSha256Hex(readFileSync(KNOWN_CRT, 'latin1')), KNOWN_SHA256_HEX);
    assert.equal(thumbprintFromSha256Hex(computeSha256Hex(readFileSync(KNOWN_CRT))), KNOWN_THUMBPRINT);
  });
});

describe('thumbprintsEqual', () => {
  test('equal thumbprints are equal', () => {
    assert.equal(thumbprintsEqual(KNOWN_THUMBPRINT, `${KNOWN_THUMBPRINT}`), true);
  });

  test('thumbprints of the same length that differ are not equal', () => {
    const other = `${KNOWN_THUMBPRINT.slice(0, 42)}${KNOWN_THUMBPRINT.endsWith('A') ? 'B' : 'A'}`;
    assert.equal(other.length, KNOWN_THUMBPRINT.length);
    assert.equal(thumbprintsEqual(KNOWN_THUMBPRINT, other), false);
    assert.equal(thumbprintsEqual(KNOWN_THUMBPRINT, KNOWN_THUMBPRINT.toLowerCase()), false, 'comparison is case-sensitive');
  });

  test('thumbprints of different lengths are not equal (and do not throw)', () => {
    assert.equal(thumbprintsEqual(KNOWN_THUMBPRINT, KNOWN_THUMBPRINT_STD_BASE64), false);
    assert.equal(thumbprintsEqual(KNOWN_THUMBPRINT, KNOWN_THUMBPRINT.slice(0, 42)), false);
    assert.equal(thumbprintsEqual('', KNOWN_THUMBPRINT), false);
    assert.equal(thumbprintsEqual(KNOWN_THUMBPRINT, ''), false);
  });
});
