import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { CompactSign, errors as joseErrors, SignJWT, type JWTHeaderParameters, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { CertboundError } from '../../src/core/errors.js';
import { createSigningKey, type SigningKey } from '../../src/core/signing/signer.js';
import { createBoundTokenVerifier, type VerifierOptions } from '../../src/core/verify.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';

const ISSUER = 'https://sts.domain.com';
const AUDIENCE = 'https://server.domain.com:8443';
/** Fixed clock: 2023-11-14T22:13:20Z, in ms. */
const NOW_MS = 1_700_000_000_000;
const NOW = NOW_MS / 1000;

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

let pki: TestPki;
let es256: SigningKey;
let rs256: SigningKey;
let stray: SigningKey;

before(async () => {
  pki = await createTestPki();
  es256 = await createSigningKey({ privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey });
  rs256 = await createSigningKey({ privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey });
  stray = await createSigningKey({ privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, kid: 'not-in-jwks' });
});

/** Valid claims for a token bound to alice's certificate at NOW, with overrides (undefined deletes). */
function payload(overrides: Record<string, unknown> = {}): JWTPayload {
  const base: Record<string, unknown> = {
    iss: ISSUER,
    sub: 'alice',
    aud: AUDIENCE,
    iat: NOW,
    exp: NOW + 300,
    jti: 'jti-1',
    client_id: 'alice-client',
    scope: 'read write',
    cnf: { 'x5t#S256': pki.alice.thumbprint },
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[name];
    else base[name] = value;
  }
  return base as JWTPayload;
}

async function sign(claims: JWTPayload = payload(), key: SigningKey = es256, header: Partial<JWTHeaderParameters> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header }).sign(key.privateKey);
}

function verifier(options: Partial<VerifierOptions> = {}) {
  return createBoundTokenVerifier({
    keys: { keys: [es256.publicJwk, rs256.publicJwk] },
    issuer: ISSUER,
    audience: AUDIENCE,
    now: () => NOW_MS,
    ...options,
  });
}

describe('createBoundTokenVerifier: success', () => {
  test('RFC 8705 §3 a token bound to the presenting certificate is accepted', async () => {
    const result = await verifier().verify(await sign(), pki.alice.thumbprint);
    assert.equal(result.subject, 'alice');
    assert.equal(result.clientId, 'alice-client');
    assert.deepEqual(result.scopes, ['read', 'write']);
    assert.equal(result.thumbprint, pki.alice.thumbprint);
    assert.equal(result.claims.jti, 'jti-1');
    assert.equal(result.header.typ, 'at+jwt');
    assert.equal(result.header.kid, es256.kid);
  });

  test('RFC 7518 RS256 tokens from the same JWKS are accepted', async () => {
    const result = await verifier().verify(await sign(payload(), rs256), pki.alice.thumbprint);
    assert.equal(result.header.alg, 'RS256');
  });

  test('RFC 9068 §2.2.3 no scope claim gives no scopes; no client_id gives undefined', async () => {
    const result = await verifier().verify(await sign(payload({ scope: undefined, client_id: undefined })), pki.alice.thumbprint);
    assert.deepEqual(result.scopes, []);
    assert.equal(result.clientId, undefined);
  });

  test('RFC 9068 §4 an aud array containing this resource is accepted; several accepted issuers and audiences', async () => {
    const token = await sign(payload({ aud: ['https://other.domain.com', AUDIENCE], iss: 'https://sts2.domain.com' }));
    const result = await verifier({ issuer: [ISSUER, 'https://sts2.domain.com'], audience: ['https://nope.domain.com', AUDIENCE] }).verify(
      token,
      pki.alice.thumbprint,
    );
    assert.equal(result.subject, 'alice');
  });

  test('RFC 9068 §2.1 typ "application/at+jwt" is accepted as "at+jwt"', async () => {
    const result = await verifier().verify(await sign(payload(), es256, { typ: 'application/at+jwt' }), pki.alice.thumbprint);
    assert.equal(result.subject, 'alice');
  });

  test('a token without kid is verified when the JWKS has a single usable key', async () => {
    const token = await new SignJWT(payload()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(es256.privateKey);
    const result = await createBoundTokenVerifier({
      keys: { keys: [es256.publicJwk] },
      issuer: ISSUER,
      audience: AUDIENCE,
      now: () => NOW_MS,
    }).verify(token, pki.alice.thumbprint);
    assert.equal(result.subject, 'alice');
  });

  test('a key resolver function is used for the key', async () => {
    const seen: (string | undefined)[] = [];
    const keys: JWTVerifyGetKey = (header) => {
      seen.push(header.kid);
      return createPublicKey(es256.privateKey);
    };
    const result = await verifier({ keys }).verify(await sign(), pki.alice.thumbprint);
    assert.equal(result.subject, 'alice');
    assert.deepEqual(seen, [es256.kid]);
  });
});

describe('createBoundTokenVerifier: refusals', () => {
  test('RFC 8705 §3 no client certificate on the connection is CB_CLIENT_CERT_MISSING', async () => {
    await assert.rejects(verifier().verify(await sign(), undefined), {
      code: 'CB_CLIENT_CERT_MISSING',
      description: 'a client certificate is required to use a certificate-bound token',
      reason: 'missing',
    });
  });

  test('RFC 9068 §4 a wrong issuer is CB_TOKEN_ISSUER_INVALID', async () => {
    await assert.rejects(verifier().verify(await sign(payload({ iss: 'https://evil.domain.com' })), pki.alice.thumbprint), {
      code: 'CB_TOKEN_ISSUER_INVALID',
      description: 'token iss claim is not accepted',
      reason: 'mismatch',
    });
  });

  test('RFC 9068 §4 a missing issuer is refused', async () => {
    await assert.rejects(verifier().verify(await sign(payload({ iss: undefined })), pki.alice.thumbprint), {
      code: 'CB_TOKEN_ISSUER_INVALID',
      reason: 'missing',
    });
  });

  test('RFC 9068 §4 a wrong audience is CB_TOKEN_AUDIENCE_INVALID', async () => {
    await assert.rejects(verifier().verify(await sign(payload({ aud: 'https://other.domain.com' })), pki.alice.thumbprint), {
      code: 'CB_TOKEN_AUDIENCE_INVALID',
      description: 'token aud claim is not accepted',
    });
    await assert.rejects(
      verifier().verify(await sign(payload({ aud: ['https://a.domain.com', 'https://b.domain.com'] })), pki.alice.thumbprint),
      {
        code: 'CB_TOKEN_AUDIENCE_INVALID',
      },
    );
  });

  test('RFC 7519 §4.1.4 an expired token (beyond the default 30 s tolerance) is CB_TOKEN_EXPIRED', async () => {
    const token = await sign(payload({ iat: NOW - 600, exp: NOW - 31 }));
    await assert.rejects(verifier().verify(token, pki.alice.thumbprint), {
      code: 'CB_TOKEN_EXPIRED',
      description: 'token has expired',
      reason: 'expired',
    });
  });

  test('RFC 7519 §4.1.4 the injected clock decides expiry', async () => {
    const token = await sign(payload({ exp: NOW + 300 }));
    await assert.rejects(verifier({ now: () => NOW_MS + 331_000 }).verify(token, pki.alice.thumbprint), { code: 'CB_TOKEN_EXPIRED' });
    assert.equal((await verifier({ now: () => NOW_MS + 299_000 }).verify(token, pki.alice.thumbprint)).subject, 'alice');
  });

  test('RFC 7519 §4.1.4 an expired token within clockToleranceSeconds is accepted', async () => {
    const token = await sign(payload({ iat: NOW - 600, exp: NOW - 10 }));
    assert.equal((await verifier().verify(token, pki.alice.thumbprint)).subject, 'alice', 'default tolerance 30 s');
    assert.equal((await verifier({ clockToleranceSeconds: 11 }).verify(token, pki.alice.thumbprint)).subject, 'alice');
    await assert.rejects(verifier({ clockToleranceSeconds: 10 }).verify(token, pki.alice.thumbprint), { code: 'CB_TOKEN_EXPIRED' });
    await assert.rejects(verifier({ clockToleranceSeconds: 0 }).verify(token, pki.alice.thumbprint), { code: 'CB_TOKEN_EXPIRED' });
  });

  test('RFC 7519 §4.1.4 with no tolerance a token is expired at exactly exp', async () => {
    const token = await sign(payload({ exp: NOW }));
    await assert.rejects(verifier({ clockToleranceSeconds: 0 }).verify(token, pki.alice.thumbprint), { code: 'CB_TOKEN_EXPIRED' });
    const later = await sign(payload({ exp: NOW + 1 }));
    assert.equal((await verifier({ clockToleranceSeconds: 0 }).verify(later, pki.alice.thumbprint)).subject, 'alice');
  });

  test('RFC 7519 §4.1.5 nbf in the future (beyond tolerance) is CB_TOKEN_NOT_YET_VALID', async () => {
    await assert.rejects(verifier().verify(await sign(payload({ nbf: NOW + 60 })), pki.alice.thumbprint), {
      code: 'CB_TOKEN_NOT_YET_VALID',
      reason: 'not_yet_valid',
    });
    await assert.rejects(verifier({ clockToleranceSeconds: 0 }).verify(await sign(payload({ nbf: NOW + 1 })), pki.alice.thumbprint), {
      code: 'CB_TOKEN_NOT_YET_VALID',
    });
    assert.equal(
      (await verifier().verify(await sign(payload({ nbf: NOW + 20 })), pki.alice.thumbprint)).subject,
      'alice',
      'within tolerance',
    );
    assert.equal(
      (await verifier({ clockToleranceSeconds: 0 }).verify(await sign(payload({ nbf: NOW })), pki.alice.thumbprint)).subject,
      'alice',
    );
  });

  test('RFC 9068 §2.2 missing exp or sub is CB_TOKEN_CLAIM_INVALID (missing)', async () => {
    await assert.rejects(verifier().verify(await sign(payload({ exp: undefined })), pki.alice.thumbprint), {
      code: 'CB_TOKEN_CLAIM_INVALID',
      description: 'token has no exp claim',
      reason: 'missing',
    });
    await assert.rejects(verifier().verify(await sign(payload({ sub: undefined })), pki.alice.thumbprint), {
      code: 'CB_TOKEN_CLAIM_INVALID',
      description: 'token has no sub claim',
      reason: 'missing',
    });
  });

  test('RFC 7519 §2 exp, nbf or iat that is not a finite whole number of seconds is CB_TOKEN_CLAIM_INVALID', async () => {
    // JSON.stringify cannot write 1e309 (JSON.parse reads it as Infinity): sign the text itself.
    const signText = (text: string) =>
      new CompactSign(new TextEncoder().encode(text))
        .setProtectedHeader({ alg: es256.alg, kid: es256.kid, typ: 'at+jwt' })
        .sign(es256.privateKey);
    const claims = JSON.stringify(payload());
    const cases: Array<[string, string]> = [
      [claims.replace(`"exp":${NOW + 300}`, '"exp":1e309'), 'exp'],
      [claims.replace(`"iat":${NOW}`, '"iat":-1e309'), 'iat'],
      [claims.replace('"sub"', '"nbf":-1e309,"sub"'), 'nbf'],
      [claims.replace(`"exp":${NOW + 300}`, `"exp":${NOW + 300}.5`), 'exp'],
      [claims.replace(`"exp":${NOW + 300}`, '"exp":1e300'), 'exp'],
    ];
    for (const [text, claim] of cases) {
      assert.notEqual(text, claims);
      await assert.rejects(verifier().verify(await signText(text), pki.alice.thumbprint), {
        code: 'CB_TOKEN_CLAIM_INVALID',
        description: `${claim} claim must be a whole number of seconds`,
        reason: 'malformed',
      });
    }
    assert.equal(
      (await verifier().verify(await signText(claims), pki.alice.thumbprint)).subject,
      'alice',
      'the same text with ordinary dates verifies',
    );
  });

  test('RFC 9068 §2.2 an empty sub or a non-string scope is CB_TOKEN_CLAIM_INVALID', async () => {
    await assert.rejects(verifier().verify(await sign(payload({ sub: '' })), pki.alice.thumbprint), { code: 'CB_TOKEN_CLAIM_INVALID' });
    await assert.rejects(verifier().verify(await sign(payload({ scope: ['read'] })), pki.alice.thumbprint), {
      code: 'CB_TOKEN_CLAIM_INVALID',
      description: 'scope claim must be a string',
    });
  });

  test('RFC 7517 §4.5 a kid that is not in the JWKS is CB_TOKEN_KEY_UNKNOWN', async () => {
    await assert.rejects(verifier().verify(await sign(payload(), stray), pki.alice.thumbprint), {
      code: 'CB_TOKEN_KEY_UNKNOWN',
      description: 'token was signed with an unknown key',
    });
  });

  test('RFC 8725 §3.1 alg "none" (unsecured JWT) is CB_TOKEN_ALG_NOT_ALLOWED', async () => {
    const unsecured = `${b64url({ alg: 'none', typ: 'at+jwt', kid: es256.kid })}.${b64url(payload())}.`;
    await assert.rejects(verifier().verify(unsecured, pki.alice.thumbprint), {
      code: 'CB_TOKEN_ALG_NOT_ALLOWED',
      description: 'token signing algorithm is not allowed',
    });
    const noKid = `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url(payload())}.`;
    await assert.rejects(verifier().verify(noKid, pki.alice.thumbprint), { code: 'CB_TOKEN_ALG_NOT_ALLOWED' });
  });

  test('RFC 8725 §2.1 HS256 signed with the public key (PEM or JWK bytes) as the secret is CB_TOKEN_ALG_NOT_ALLOWED', async () => {
    const publicPem = createPublicKey(rs256.privateKey).export({ format: 'pem', type: 'spki' }) as string;
    for (const secret of [publicPem, JSON.stringify(rs256.publicJwk), JSON.stringify(es256.publicJwk)]) {
      const forged = await new SignJWT(payload())
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: rs256.kid })
        .sign(new TextEncoder().encode(secret));
      await assert.rejects(verifier().verify(forged, pki.alice.thumbprint), { code: 'CB_TOKEN_ALG_NOT_ALLOWED' });
    }
  });

  test('an algorithm left out of "algorithms" is CB_TOKEN_ALG_NOT_ALLOWED', async () => {
    await assert.rejects(verifier({ algorithms: ['RS256'] }).verify(await sign(), pki.alice.thumbprint), {
      code: 'CB_TOKEN_ALG_NOT_ALLOWED',
    });
  });

  test('RFC 9068 §4 typ "JWT" instead of "at+jwt" is CB_TOKEN_TYPE_INVALID', async () => {
    await assert.rejects(verifier().verify(await sign(payload(), es256, { typ: 'JWT' }), pki.alice.thumbprint), {
      code: 'CB_TOKEN_TYPE_INVALID',
      description: /^token typ header must be "?at\+jwt"?$/,
      reason: 'mismatch',
    });
  });

  test('RFC 9068 §4 a token without typ is CB_TOKEN_TYPE_INVALID', async () => {
    const token = await new SignJWT(payload()).setProtectedHeader({ alg: 'ES256', kid: es256.kid }).sign(es256.privateKey);
    await assert.rejects(verifier().verify(token, pki.alice.thumbprint), { code: 'CB_TOKEN_TYPE_INVALID' });
  });

  test('RFC 8705 §3.1 a token without cnf is CB_CNF_MISSING', async () => {
    await assert.rejects(verifier().verify(await sign(payload({ cnf: undefined })), pki.alice.thumbprint), {
      code: 'CB_CNF_MISSING',
      description: 'token is not certificate-bound (no cnf claim)',
    });
  });

  test('RFC 8705 §3.1 a cnf without x5t#S256 (only jkt, RFC 9449) is CB_CNF_MISSING', async () => {
    await assert.rejects(verifier().verify(await sign(payload({ cnf: { jkt: es256.kid } })), pki.alice.thumbprint), {
      code: 'CB_CNF_MISSING',
      description: 'token has no cnf x5t#S256 certificate thumbprint',
    });
    await assert.rejects(verifier().verify(await sign(payload({ cnf: {} })), pki.alice.thumbprint), { code: 'CB_CNF_MISSING' });
  });

  test('RFC 7800 §3.1 a cnf that is not a JSON object (array, string, null) is CB_CNF_MALFORMED', async () => {
    for (const cnf of [[{ 'x5t#S256': pki.alice.thumbprint }], pki.alice.thumbprint, null, 42]) {
      await assert.rejects(verifier().verify(await sign(payload({ cnf })), pki.alice.thumbprint), {
        code: 'CB_CNF_MALFORMED',
        description: 'cnf claim must be a JSON object',
      });
    }
  });

  test('RFC 8705 §3.1 the padded standard-base64 thumbprint of the right certificate is CB_CNF_MALFORMED', async () => {
    const standard = createHash('sha256').update(pki.alice.der).digest('base64');
    assert.ok(standard.endsWith('='));
    await assert.rejects(verifier().verify(await sign(payload({ cnf: { 'x5t#S256': standard } })), pki.alice.thumbprint), {
      code: 'CB_CNF_MALFORMED',
      description: 'cnf x5t#S256 must be 43 base64url characters without padding (RFC 8705 section 3.1)',
    });
    const padded = `${pki.alice.thumbprint}=`;
    await assert.rejects(verifier().verify(await sign(payload({ cnf: { 'x5t#S256': padded } })), pki.alice.thumbprint), {
      code: 'CB_CNF_MALFORMED',
    });
  });

  test('RFC 8705 §3.1 a hex or non-string thumbprint is CB_CNF_MALFORMED', async () => {
    const hex = createHash('sha256').update(pki.alice.der).digest('hex');
    await assert.rejects(verifier().verify(await sign(payload({ cnf: { 'x5t#S256': hex } })), pki.alice.thumbprint), {
      code: 'CB_CNF_MALFORMED',
    });
    await assert.rejects(verifier().verify(await sign(payload({ cnf: { 'x5t#S256': 1 } })), pki.alice.thumbprint), {
      code: 'CB_CNF_MALFORMED',
    });
  });

  test('RFC 8705 §3 a token bound to another certificate is CB_CNF_MISMATCH', async () => {
    const token = await sign(payload({ cnf: { 'x5t#S256': pki.bob.thumbprint } }));
    await assert.rejects(verifier().verify(token, pki.alice.thumbprint), {
      code: 'CB_CNF_MISMATCH',
      description: 'token is bound to a different client certificate',
      reason: 'mismatch',
    });
    // alice's token presented over bob's connection, and over the stranger's (same DN as alice, other CA).
    await assert.rejects(verifier().verify(await sign(), pki.bob.thumbprint), { code: 'CB_CNF_MISMATCH' });
    await assert.rejects(verifier().verify(await sign(), pki.stranger.thumbprint), { code: 'CB_CNF_MISMATCH' });
  });

  test('RFC 7515 §5.2 a tampered payload is CB_TOKEN_SIGNATURE_INVALID', async () => {
    const [header, , signature] = (await sign()).split('.') as [string, string, string];
    const tampered = `${header}.${b64url(payload({ sub: 'admin', scope: 'read write admin' }))}.${signature}`;
    await assert.rejects(verifier().verify(tampered, pki.alice.thumbprint), {
      code: 'CB_TOKEN_SIGNATURE_INVALID',
      description: 'token signature is invalid',
    });
  });

  test('RFC 7515 §5.2 a token whose kid names another key of the JWKS is CB_TOKEN_SIGNATURE_INVALID', async () => {
    const token = await new SignJWT(payload()).setProtectedHeader({ alg: 'ES256', kid: es256.kid, typ: 'at+jwt' }).sign(stray.privateKey);
    await assert.rejects(verifier().verify(token, pki.alice.thumbprint), { code: 'CB_TOKEN_SIGNATURE_INVALID' });
  });

  test('RFC 7519 §7.2 garbage is CB_TOKEN_MALFORMED', async () => {
    for (const garbage of [
      'a.b.c',
      'not-a-jwt',
      '',
      'a.b',
      'a.b.c.d.e',
      `${b64url({ alg: 'ES256', typ: 'at+jwt' })}.${b64url(payload())}`,
    ]) {
      await assert.rejects(verifier().verify(garbage, pki.alice.thumbprint), { code: 'CB_TOKEN_MALFORMED' }, JSON.stringify(garbage));
    }
  });

  test("a key resolver that fails like a network is CB_JWKS_UNAVAILABLE (not the token's fault)", async () => {
    const network: JWTVerifyGetKey = () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8443'), { code: 'ECONNREFUSED' });
    };
    await assert.rejects(verifier({ keys: network }).verify(await sign(), pki.alice.thumbprint), (error: unknown) => {
      assert.ok(error instanceof CertboundError);
      assert.equal(error.code, 'CB_JWKS_UNAVAILABLE');
      assert.equal(error.description, 'the issuer signing keys are unavailable');
      assert.equal(error.outcome.http, 503);
      assert.match(error.detail ?? '', /ECONNREFUSED/);
      return true;
    });
    const timeout: JWTVerifyGetKey = async () => {
      throw new joseErrors.JWKSTimeout();
    };
    await assert.rejects(verifier({ keys: timeout }).verify(await sign(), pki.alice.thumbprint), { code: 'CB_JWKS_UNAVAILABLE' });
  });

  test('a key resolver that finds no matching key is CB_TOKEN_KEY_UNKNOWN', async () => {
    const none: JWTVerifyGetKey = async () => {
      throw new joseErrors.JWKSNoMatchingKey();
    };
    await assert.rejects(verifier({ keys: none }).verify(await sign(), pki.alice.thumbprint), { code: 'CB_TOKEN_KEY_UNKNOWN' });
  });
});

describe('createBoundTokenVerifier: construction misuse is a TypeError', () => {
  const base = (): VerifierOptions => ({ keys: { keys: [] }, issuer: ISSUER, audience: AUDIENCE });

  test('RFC 8725 §3.1 HS256 or none in algorithms', () => {
    assert.throws(() => createBoundTokenVerifier({ ...base(), algorithms: ['HS256' as never] }), TypeError);
    assert.throws(() => createBoundTokenVerifier({ ...base(), algorithms: ['ES256', 'none' as never] }), TypeError);
  });

  test('empty algorithms', () => {
    assert.throws(() => createBoundTokenVerifier({ ...base(), algorithms: [] }), {
      name: 'TypeError',
      message: '"algorithms" must not be empty',
    });
  });

  test('clockToleranceSeconds above 300, negative or fractional', () => {
    assert.throws(() => createBoundTokenVerifier({ ...base(), clockToleranceSeconds: 301 }), TypeError);
    assert.throws(() => createBoundTokenVerifier({ ...base(), clockToleranceSeconds: -1 }), TypeError);
    assert.throws(() => createBoundTokenVerifier({ ...base(), clockToleranceSeconds: 1.5 }), TypeError);
    assert.doesNotThrow(() => createBoundTokenVerifier({ ...base(), clockToleranceSeconds: 300 }));
    assert.doesNotThrow(() => createBoundTokenVerifier({ ...base(), clockToleranceSeconds: 0 }));
  });

  test('missing or empty issuer / audience', () => {
    const { issuer: _issuer, ...noIssuer } = base();
    assert.throws(() => createBoundTokenVerifier(noIssuer as VerifierOptions), {
      name: 'TypeError',
      message: '"issuer" must be a non-empty string or array of non-empty strings',
    });
    // The same sentence however it is empty, never the schema library's own wording.
    for (const issuer of ['', [], ['']]) {
      assert.throws(() => createBoundTokenVerifier({ ...base(), issuer }), {
        name: 'TypeError',
        message: '"issuer" must be a non-empty string or array of non-empty strings',
      });
    }
    assert.throws(() => createBoundTokenVerifier({ ...base(), audience: [AUDIENCE, ''] }), {
      message: '"audience" must be a non-empty string or array of non-empty strings',
    });
  });

  test('keys that are neither a JWKS nor a function', () => {
    assert.throws(() => createBoundTokenVerifier({ ...base(), keys: {} as never }), TypeError);
    assert.throws(() => createBoundTokenVerifier({ ...base(), keys: null as never }), TypeError);
  });

  test('now that is not a function', () => {
    assert.throws(() => createBoundTokenVerifier({ ...base(), now: 5 as never }), TypeError);
  });
});
