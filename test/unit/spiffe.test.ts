// SPIFFE IDs and the patterns policy matches them with (SPIFFE-ID specification §2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSpiffePattern, formatSpiffeId, parseSpiffeId } from '../../src/core/spiffe.js';

test('valid SPIFFE IDs parse into trust domain and segments, and format back', () => {
  for (const id of ['spiffe://domain.com', 'spiffe://domain.com/ns/prod/sa/billing', 'spiffe://a-b_c.d/x.y/Z_9-']) {
    const parsed = parseSpiffeId(id);
    assert.ok(parsed !== undefined, id);
    assert.equal(formatSpiffeId(parsed), id);
  }
  assert.deepEqual(parseSpiffeId('spiffe://domain.com/ns/prod'), { trustDomain: 'domain.com', segments: ['ns', 'prod'] });
});

test('what is not a SPIFFE ID is refused', () => {
  for (const id of [
    'https://domain.com/x',
    'spiffe://Domain.com/x',
    'spiffe://domain.com:8443/x',
    'spiffe://domain.com/x?y=1',
    'spiffe://domain.com/x#f',
    'spiffe://domain.com/',
    'spiffe://domain.com//x',
    'spiffe://domain.com/./x',
    'spiffe://domain.com/../x',
    'spiffe://user@domain.com/x',
    'spiffe:///x',
    `spiffe://d/${'a'.repeat(2100)}`,
  ]) {
    assert.equal(parseSpiffeId(id), undefined, id);
  }
});

test('patterns: * is exactly one segment, a final ** is one or more, the trust domain is literal', () => {
  const one = compileSpiffePattern('spiffe://domain.com/ns/*/sa/billing');
  const id = (text: string) => parseSpiffeId(text) as NonNullable<ReturnType<typeof parseSpiffeId>>;
  assert.equal(one(id('spiffe://domain.com/ns/prod/sa/billing')), true);
  assert.equal(one(id('spiffe://domain.com/ns/prod/extra/sa/billing')), false);
  assert.equal(one(id('spiffe://domain.com/ns/prod/sa/payments')), false);
  assert.equal(one(id('spiffe://other.com/ns/prod/sa/billing')), false);
  const rest = compileSpiffePattern('spiffe://domain.com/ns/**');
  assert.equal(rest(id('spiffe://domain.com/ns/a')), true);
  assert.equal(rest(id('spiffe://domain.com/ns/a/b/c')), true);
  assert.equal(rest(id('spiffe://domain.com/ns')), false);
  const exact = compileSpiffePattern('spiffe://domain.com/client/alice');
  assert.equal(exact(id('spiffe://domain.com/client/alice')), true);
  assert.equal(exact(id('spiffe://domain.com/client/alice2')), false);
});

test('bad patterns are TypeErrors', () => {
  for (const pattern of [
    'spiffe://*.com/x',
    'spiffe://domain.com/a*/b',
    'spiffe://domain.com/**/b',
    'domain.com/x',
    'spiffe://domain.com/x/',
  ]) {
    assert.throws(() => compileSpiffePattern(pattern), TypeError, pattern);
  }
});
