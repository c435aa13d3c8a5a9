import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseBearerAuthorization } from '../../src/core/bearer.js';
import { CertboundError } from '../../src/core/errors.js';

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';

function assertMalformed(values: readonly string[] | string | undefined, description?: string): void {
  assert.throws(
    () => parseBearerAuthorization(values),
    (error: unknown) => {
      assert.ok(error instanceof CertboundError);
      assert.equal(error.code, 'CB_AUTHORIZATION_MALFORMED');
      assert.equal(error.reason, 'malformed');
      if (description !== undefined) assert.equal(error.description, description);
      return true;
    },
  );
}

describe('parseBearerAuthorization', () => {
  test('RFC 6750 §2.1 "Bearer <token>" yields the token', () => {
    assert.equal(parseBearerAuthorization(`Bearer ${TOKEN}`), TOKEN);
    assert.equal(parseBearerAuthorization([`Bearer ${TOKEN}`]), TOKEN);
    assert.equal(parseBearerAuthorization('Bearer x'), 'x');
  });

  test('RFC 9110 §11.1 the auth scheme is case-insensitive ("bearer", "BEARER")', () => {
    assert.equal(parseBearerAuthorization('bearer x'), 'x');
    assert.equal(parseBearerAuthorization('BEARER x'), 'x');
    assert.equal(parseBearerAuthorization('bEaReR x'), 'x');
  });

  test('RFC 6750 §2.1 b64token characters, including trailing "=", are accepted', () => {
    const token = 'Aa0-._~+/==';
    assert.equal(parseBearerAuthorization(`Bearer ${token}`), token);
  });

  test('RFC 6750 §3.1 no Authorization header is CB_TOKEN_MISSING', () => {
    for (const values of [undefined, [] as string[]]) {
      assert.throws(() => parseBearerAuthorization(values), {
        code: 'CB_TOKEN_MISSING',
        description: 'no access token',
        reason: 'missing',
      });
    }
  });

  test('RFC 6750 §3.1 another scheme (Basic) is treated as no bearer token: CB_TOKEN_MISSING', () => {
    assert.throws(() => parseBearerAuthorization('Basic YWxpY2U6c2VjcmV0'), {
      code: 'CB_TOKEN_MISSING',
      description: 'no bearer access token',
      reason: 'missing',
    });
  });

  test('two Authorization headers are CB_AUTHORIZATION_MALFORMED', () => {
    assert.throws(() => parseBearerAuthorization([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]), {
      code: 'CB_AUTHORIZATION_MALFORMED',
      description: 'more than one Authorization header',
    });
    assertMalformed(['Bearer a', 'Basic b']);
  });

  test('RFC 6750 §2.1 "Bearer a b" (a space inside the credential) is CB_AUTHORIZATION_MALFORMED', () => {
    assert.throws(() => parseBearerAuthorization('Bearer a b'), {
      code: 'CB_AUTHORIZATION_MALFORMED',
      description: "Authorization header is not 'Bearer <token>'",
    });
  });

  test('RFC 6750 §2.1 "Bearer" with no credential is CB_AUTHORIZATION_MALFORMED', () => {
    assertMalformed('Bearer', "Authorization header is not 'Bearer <token>'");
    assertMalformed('Bearer ', "Authorization header is not 'Bearer <token>'");
    assertMalformed('', "Authorization header is not 'Bearer <token>'");
  });

  test('RFC 6750 §2.1 a token with characters outside b64token (`"`, `,`) is CB_AUTHORIZATION_MALFORMED', () => {
    const description = 'bearer token has characters outside RFC 6750 b64token';
    assert.throws(() => parseBearerAuthorization('Bearer "abc"'), { code: 'CB_AUTHORIZATION_MALFORMED', description });
    assert.throws(() => parseBearerAuthorization('Bearer abc,def'), { code: 'CB_AUTHORIZATION_MALFORMED', description });
    assert.throws(() => parseBearerAuthorization('Bearer a=b'), { code: 'CB_AUTHORIZATION_MALFORMED', description }, '"=" only at the end');
  });

  test('the error is a CertboundError with an HTTP 400 outcome for malformed, 401 for missing', () => {
    try {
      parseBearerAuthorization('Bearer a b');
      assert.fail('expected a throw');
    } catch (error) {
      assert.ok(error instanceof CertboundError);
      assert.equal(error.outcome.http, 400);
      assert.equal(error.outcome.oauth, 'invalid_request');
    }
    try {
      parseBearerAuthorization(undefined);
      assert.fail('expected a throw');
    } catch (error) {
      assert.ok(error instanceof CertboundError);
      assert.equal(error.outcome.http, 401);
      assert.equal(error.outcome.oauth, null, 'RFC 6750 §3.1: no error code when the request had no authentication');
    }
  });
});
