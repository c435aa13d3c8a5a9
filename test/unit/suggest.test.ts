// "did you mean": the edit distance behind the CLI's suggestions, and when it stays silent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closestMatch, didYouMean, editDistance } from '../../src/cli/suggest.js';

test('edit distance counts inserts, deletes, substitutions and a swap of neighbours as one each', () => {
  assert.equal(editDistance('tls-cert', 'tls-cert'), 0);
  assert.equal(editDistance('tls-crt', 'tls-cert'), 1, 'insert');
  assert.equal(editDistance('tls-certt', 'tls-cert'), 1, 'delete');
  assert.equal(editDistance('tls-cart', 'tls-cert'), 1, 'substitute');
  assert.equal(editDistance('audeince', 'audience'), 1, 'swap (Damerau)');
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('the closest candidate within two edits is suggested; the first wins a tie', () => {
  const flags = ['tls-ca', 'tls-cert', 'tls-key', 'jwks'];
  assert.equal(closestMatch('tls-crt', flags), 'tls-cert');
  assert.equal(closestMatch('tls-kye', flags), 'tls-key');
  assert.equal(closestMatch('tls-c', flags), 'tls-ca');
  assert.equal(didYouMean('jwsk', flags, '--'), '; did you mean --jwks?');
});

test('nothing is suggested when no candidate is close, nor for a short word far from all', () => {
  assert.equal(closestMatch('frobnicate', ['token', 'inspect', 'sts']), undefined);
  assert.equal(closestMatch('xy', ['sts', 'pki']), undefined, 'two edits of a two-letter word is anything');
  assert.equal(closestMatch('anything', []), undefined);
  assert.equal(didYouMean('zzz', ['token']), '');
});
