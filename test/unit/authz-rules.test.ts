// Gateway rules: parsed from `METHOD PREFIX [SCOPE ...]`, matched by method and longest prefix,
// and never matched by a path the upstream could read differently.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorizeByRules, matchAuthzRule, parseAuthzRule } from '../../src/core/authz-rules.js';
import type { VerifiedToken } from '../../src/core/verify.js';

const rules = ['GET /orders/ read', 'POST /orders/ write', '* /orders/admin/ admin', 'GET /health'].map(parseAuthzRule);
const token = (scopes: string[]) => ({ scopes }) as unknown as VerifiedToken;

test('a rule reads METHOD PREFIX SCOPE...; a bad one is a ConfigError naming it', () => {
  assert.deepEqual(parseAuthzRule('  GET   /orders/  read  write '), { method: 'GET', pathPrefix: '/orders/', scopes: ['read', 'write'] });
  assert.deepEqual(parseAuthzRule('* /'), { method: '*', pathPrefix: '/', scopes: [] });
  for (const [text, message] of [
    ['get /orders/', /the method must be an HTTP method in capitals/],
    ['GET orders/', /the path prefix must be an absolute, plain path/],
    ['GET /a/../b', /absolute, plain path/],
    ['GET /a/%2e%2e/', /absolute, plain path/],
    ['GET /a/ re"ad', /"re"ad" is not a scope token/],
    ['', /the method must be/],
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
