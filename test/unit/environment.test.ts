// fromEnvironment: which flags a variable fills and how its text becomes a flag's value.
import assert from 'node:assert/strict';
import { delimiter } from 'node:path';
import { test } from 'node:test';
import type { FlagSpec } from '../../src/config/option.js';
import { fromEnvironment, withoutFlagVariables } from '../../src/cli/environment.js';
import { UsageError } from '../../src/cli/errors.js';

const OPTIONS: FlagSpec[] = [
  { flag: 'rate-limit', type: { kind: 'integer', min: 0, max: 10 }, doc: '' },
  { flag: 'require-client-id', type: { kind: 'boolean' }, doc: '' },
  { flag: 'audience', type: { kind: 'strings' }, doc: '' },
  { flag: 'tls-crl', type: { kind: 'paths' }, doc: '' },
];

test('variables fill the flags the command line left out, as text, lists and booleans', () => {
  const env = {
    CERTBOUND_RATE_LIMIT: 'not checked here',
    CERTBOUND_REQUIRE_CLIENT_ID: '0',
    CERTBOUND_AUDIENCE: ' a , https://b.example ',
    CERTBOUND_TLS_CRL: ['/x/one.crl', 'two,with,commas.crl'].join(delimiter),
  };
  const { values, flags } = fromEnvironment('sts', OPTIONS, {}, env);
  assert.deepEqual(values, {
    'rate-limit': 'not checked here',
    'require-client-id': false,
    audience: ['a', 'https://b.example'],
    'tls-crl': ['/x/one.crl', 'two,with,commas.crl'],
  });
  assert.deepEqual([...flags].sort(), ['audience', 'rate-limit', 'require-client-id', 'tls-crl']);
});

test('a flag given (even as a list) keeps its value; an empty variable is unset', () => {
  const { values, flags } = fromEnvironment(
    'sts',
    OPTIONS,
    { audience: ['flag'], 'require-client-id': true },
    { CERTBOUND_AUDIENCE: 'env', CERTBOUND_REQUIRE_CLIENT_ID: 'false', CERTBOUND_RATE_LIMIT: '' },
  );
  assert.deepEqual(values, {});
  assert.equal(flags.size, 0);
  // An empty list is no flag at all (parseArgs leaves it so for a repeatable flag never given).
  assert.deepEqual(fromEnvironment('sts', OPTIONS, { audience: [] }, { CERTBOUND_AUDIENCE: 'env' }).values, { audience: ['env'] });
});

test('booleans take exactly true, false, 1, 0; list items may not be empty; the message names the variable only', () => {
  for (const text of ['true', '1'])
    assert.equal(fromEnvironment('x', OPTIONS, {}, { CERTBOUND_REQUIRE_CLIENT_ID: text }).values['require-client-id'], true);
  for (const text of ['yes', 'TRUE', ' 1', 'on']) {
    assert.throws(
      () => fromEnvironment('sts', OPTIONS, {}, { CERTBOUND_REQUIRE_CLIENT_ID: text }),
      (error: unknown) => error instanceof UsageError && error.message === 'sts: CERTBOUND_REQUIRE_CLIENT_ID must be true, false, 1 or 0',
    );
  }
  for (const text of ['a,,b', 'a,', ',']) {
    assert.throws(
      () => fromEnvironment('resource', OPTIONS, {}, { CERTBOUND_AUDIENCE: text }),
      /^UsageError: resource: CERTBOUND_AUDIENCE must be a list of non-empty items separated by ","$/,
    );
  }
});

test('a flag whose variable is CERTBOUND_PKCS11_PIN (the PIN itself) is a programming error', () => {
  assert.throws(() => fromEnvironment('x', [{ flag: 'pkcs11-pin', type: { kind: 'string' }, doc: '' }], {}, {}), /CERTBOUND_PKCS11_PIN/);
});

test("the demo's servers get the environment without the flags' variables, but with the PIN", () => {
  assert.deepEqual(withoutFlagVariables({ PATH: '/bin', CERTBOUND_PORT: '1', CERTBOUND_PKCS11_PIN: '1234', PKCS11_MODULE_PATH: '/m.so' }), {
    PATH: '/bin',
    CERTBOUND_PKCS11_PIN: '1234',
    PKCS11_MODULE_PATH: '/m.so',
  });
});
