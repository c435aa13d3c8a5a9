// Gateway rules: parsed from `METHOD PREFIX [SCOPE ...]`, matched by method and longest prefix,
// and never matched by a path the upstream could read differently.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorizeByRules, matchAuthzRule, parseAuthzRule, parseDefaultAuthzRule } from '../../src/core/authz-rules.js';
import type { VerifiedToken } from '../../src/core/verify.js';

const rules = ['GET /orders/ read', 'POST /orders/ write', '* /orders/admin/ admin', 'GET /health'].map(parseAuthzRule);
const token = (scopes: string[], aud: string | string[] = 'https://api') => ({ scopes, claims: { aud } }) as unknown as VerifiedToken;

test('a rule reads METHOD PREFIX SCOPE...; a bad one is a ConfigError naming it', () => {
  assert.deepEqual(parseAuthzRule('  GET   /orders/  read  write '), {
    method: 'GET',
    pathPrefix: '/orders/',
    scopes: ['read', 'write'],
    audiences: [],
  });
  assert.deepEqual(parseAuthzRule('* /'), { method: '*', pathPrefix: '/', scopes: [], audiences: [] });
  assert.deepEqual(parseAuthzRule('GET /a/ read aud=https://orders aud=urn:x'), {
    method: 'GET',
    pathPrefix: '/a/',
    scopes: ['read'],
    audiences: ['https://orders', 'urn:x'],
  });
  for (const [text, message] of [
    ['get /orders/', /the method must be an HTTP method in capitals/],
    ['GET orders/', /the path prefix must be an absolute, plain path/],
    ['GET /a/../b', /absolute, plain path/],
    ['GET /a/%2e%2e/', /absolute, plain path/],
    ['GET /a/ re"ad', /"re"ad" is not a scope token/],
    ['', /the method must be/],
    ['GET /a/ aud=', /aud= needs an audience/],
  ] as const) {
    assert.throws(
      () => parseAuthzRule(text),
      (error: Error & { code?: string }) => error.code === 'CB_CONFIG_INVALID' && message.test(error.message),
      text,
    );
  }
});

test('the longest prefix for the method (or *) wins; the query is not part of the path', () => {
  assert.equal(matchAuthzRule(rules, 'GET', '/orders/7?expand=1')?.scopes[0], 'read');
  assert.equal(matchAuthzRule(rules, 'POST', '/orders/7')?.scopes[0], 'write');
  assert.equal(matchAuthzRule(rules, 'GET', '/orders/admin/users')?.scopes[0], 'admin');
  assert.equal(matchAuthzRule(rules, 'DELETE', '/orders/7'), undefined);
  assert.equal(matchAuthzRule(rules, 'GET', '/other'), undefined);
  assert.deepEqual(matchAuthzRule(rules, 'GET', '/health')?.scopes, []);
});

test('a path the upstream could normalise into another matches no rule', () => {
  for (const path of [
    '/orders/../admin',
    '/orders/./x',
    '/orders/%2e%2e/admin',
    '/orders/%2F..',
    '/orders\\..\\admin',
    '/orders/%252e',
    'orders/1',
    '/orders/\u0000',
    '/orders/a b',
  ]) {
    assert.equal(matchAuthzRule(rules, 'GET', path), undefined, path);
  }
});

test('authorizeByRules: a missing scope is CB_SCOPE_INSUFFICIENT, no rule is CB_ACCESS_DENIED (403)', () => {
  assert.equal(authorizeByRules(rules, 'GET', '/orders/1', token(['read'])).pathPrefix, '/orders/');
  assert.throws(() => authorizeByRules(rules, 'POST', '/orders/1', token(['read'])), { code: 'CB_SCOPE_INSUFFICIENT', message: /write/ });
  assert.throws(() => authorizeByRules(rules, 'PUT', '/orders/1', token(['read', 'write'])), {
    code: 'CB_ACCESS_DENIED',
    message: 'no rule allows PUT /orders/1',
  });
});

test('a rule with audiences needs one of them in aud; otherwise CB_ACCESS_DENIED', () => {
  const audienceRules = ['GET /orders/ read aud=https://orders aud=https://shop'].map(parseAuthzRule);
  assert.equal(authorizeByRules(audienceRules, 'GET', '/orders/1', token(['read'], 'https://shop')).pathPrefix, '/orders/');
  assert.equal(authorizeByRules(audienceRules, 'GET', '/orders/1', token(['read'], ['x', 'https://orders'])).pathPrefix, '/orders/');
  assert.throws(() => authorizeByRules(audienceRules, 'GET', '/orders/1', token(['read'], 'https://api')), {
    code: 'CB_ACCESS_DENIED',
    message: /not for the audience/,
  });
  // Scopes are checked first: the 403 names what is missing.
  assert.throws(() => authorizeByRules(audienceRules, 'GET', '/orders/1', token([], 'https://orders')), { code: 'CB_SCOPE_INSUFFICIENT' });
});

test('the default rule applies where no rule matches, never to an unsafe path, and never beats a matching rule', () => {
  const fallback = parseDefaultAuthzRule('basic aud=https://api');
  assert.deepEqual(fallback, { method: '*', pathPrefix: '/', scopes: ['basic'], audiences: ['https://api'] });
  assert.deepEqual(parseDefaultAuthzRule(''), { method: '*', pathPrefix: '/', scopes: [], audiences: [] });
  assert.throws(() => parseDefaultAuthzRule('re"ad'), { code: 'CB_CONFIG_INVALID', message: /default rule "re"ad"/ });
  assert.equal(authorizeByRules(rules, 'DELETE', '/anything', token(['basic']), fallback), fallback);
  assert.throws(() => authorizeByRules(rules, 'DELETE', '/anything', token([]), fallback), { code: 'CB_SCOPE_INSUFFICIENT' });
  assert.throws(() => authorizeByRules(rules, 'GET', '/orders/1', token(['basic']), fallback), { code: 'CB_SCOPE_INSUFFICIENT' });
  assert.throws(() => authorizeByRules(rules, 'GET', '/x/../admin', token(['basic']), fallback), { code: 'CB_ACCESS_DENIED' });
});
