import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { buildAccessTokenClaims, type AccessTokenInput } from '../../src/core/claims.js';
import { parseScope } from '../../src/core/scope.js';

const THUMBPRINT = 'vXOFZVZb3eGyh59HzEMNU_v6tAAeZNUmep6-1B53AVk';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function input(overrides: Partial<AccessTokenInput> = {}): AccessTokenInput {
  return {
    issuer: 'https://sts.domain.com',
    subject: 'alice',
    audience: ['https://server.domain.com:8443'],
    clientId: 'alice-client',
    thumbprint: THUMBPRINT,
    lifetimeSeconds: 300,
    issuedAt: 1_700_000_000,
    ...overrides,
  };
}

describe('buildAccessTokenClaims', () => {
  test('RFC 9068 §2.2 iss, sub, client_id and iat are taken from the input', () => {
    const claims = buildAccessTokenClaims(input());
    assert.equal(claims.iss, 'https://sts.domain.com');
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.client_id, 'alice-client');
    assert.equal(claims.iat, 1_700_000_000);
  });

  test('RFC 9068 §2.2 exp - iat equals the lifetime (expires_in can never disagree)', () => {
    for (const lifetimeSeconds of [1, 60, 300, 3600, 86_400]) {
      const claims = buildAccessTokenClaims(input({ lifetimeSeconds, issuedAt: 1_234_567_890 }));
      assert.equal(claims.exp - claims.iat, lifetimeSeconds);
      assert.equal(claims.exp, 1_234_567_890 + lifetimeSeconds);
    }
  });

  test('RFC 7519 §4.1.3 a single audience is a string', () => {
    const claims = buildAccessTokenClaims(input({ audience: ['https://server.domain.com:8443'] }));
    assert.equal(claims.aud, 'https://server.domain.com:8443');
  });

  test('RFC 7519 §4.1.3 several audiences are an array, in request order', () => {
    const audience = ['https://b.domain.com', 'https://a.domain.com'];
    const claims = buildAccessTokenClaims(input({ audience }));
    assert.deepEqual(claims.aud, ['https://b.domain.com', 'https://a.domain.com']);
    assert.notEqual(claims.aud, audience, 'a copy, not the caller array');
  });

  test('RFC 9068 §2.2.3 scope is omitted when no scope is granted', () => {
    assert.equal('scope' in buildAccessTokenClaims(input()), false);
    assert.equal('scope' in buildAccessTokenClaims(input({ scope: [] })), false);
  });

  test('RFC 9068 §2.2.3 scope is the space-joined list of granted scopes', () => {
    assert.equal(buildAccessTokenClaims(input({ scope: ['read'] })).scope, 'read');
    assert.equal(buildAccessTokenClaims(input({ scope: ['read', 'write', 'admin'] })).scope, 'read write admin');
  });

  test('RFC 8705 §3.1 cnf carries the x5t#S256 of the bound certificate', () => {
    const claims = buildAccessTokenClaims(input());
    assert.deepEqual(claims.cnf, { 'x5t#S256': THUMBPRINT });
    assert.deepEqual(Object.keys(claims.cnf), ['x5t#S256']);
  });

  test('RFC 9068 §2.2 jti is the given value when provided', () => {
    assert.equal(buildAccessTokenClaims(input({ jti: 'fixed-jti' })).jti, 'fixed-jti');
  });

  test('RFC 9068 §2.2 jti is a random, unique UUID when not given', () => {
    const jtis = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const { jti } = buildAccessTokenClaims(input());
      assert.match(jti, UUID);
      jtis.add(jti);
    }
    assert.equal(jtis.size, 100);
  });

  test('the claims serialize to exactly the RFC 9068 members (no undefined leftovers)', () => {
    const claims = buildAccessTokenClaims(input({ jti: 'j', scope: ['read'] }));
    assert.deepEqual(JSON.parse(JSON.stringify(claims)), {
      iss: 'https://sts.domain.com',
      sub: 'alice',
      aud: 'https://server.domain.com:8443',
      exp: 1_700_000_300,
      iat: 1_700_000_000,
      jti: 'j',
      client_id: 'alice-client',
      scope: 'read',
      cnf: { 'x5t#S256': THUMBPRINT },
    });
  });
});

describe('parseScope', () => {
  test('RFC 6749 §3.3 undefined and empty scope give no scopes', () => {
    assert.deepEqual(parseScope(undefined), []);
    assert.deepEqual(parseScope(''), []);
    assert.deepEqual(parseScope('   '), []);
  });

  test('RFC 6749 §3.3 scope is a space-delimited list, order kept', () => {
    assert.deepEqual(parseScope('read write'), ['read', 'write']);
    assert.deepEqual(parseScope('write read'), ['write', 'read']);
  });

  test('RFC 6749 §3.3 duplicate scope tokens are removed, first occurrence kept', () => {
    assert.deepEqual(parseScope('read write read'), ['read', 'write']);
    assert.deepEqual(parseScope('a b a b c'), ['a', 'b', 'c']);
  });

  test('RFC 6749 §3.3 empty tokens from repeated, leading or trailing spaces are dropped', () => {
    assert.deepEqual(parseScope('  read   write  '), ['read', 'write']);
  });

  test('scope tokens are case-sensitive', () => {
    assert.deepEqual(parseScope('read READ'), ['read', 'READ']);
  });
});
