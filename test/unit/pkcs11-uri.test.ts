// RFC 7512 PKCS#11 URIs as certbound reads them: which key, which token, where the PIN and the module are.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPkcs11Uri, parsePkcs11Uri } from '../../src/keys/pkcs11-uri.js';

test('path attributes by ";", query attributes by "&", values percent-decoded', () => {
  const reference = parsePkcs11Uri(
    'pkcs11:token=My%20Token;object=sts%3Bsigning;id=%01%02;type=private?pin-source=/run/pin&module-path=/usr/lib/x.so',
  );
  assert.equal(reference.token, 'My Token');
  assert.equal(reference.object, 'sts;signing');
  assert.deepEqual([...(reference.id ?? [])], [1, 2]);
  assert.equal(reference.pinSource, '/run/pin');
  assert.equal(reference.modulePath, '/usr/lib/x.so');
  assert.equal(isPkcs11Uri('PKCS11:object=a'), true);
  assert.equal(isPkcs11Uri('/etc/certbound/jwt.key'), false);
});

test('what certbound cannot use is a ConfigError naming the attribute; a PIN in the URI above all', () => {
  const cases: Array<[string, RegExp]> = [
    ['pkcs11:object=a;pin-value=1234', /carries its PIN \(pin-value\)/],
    ['pkcs11:object=a?PIN-VALUE=1234', /carries its PIN/],
    ['pkcs11:object=a;object=b', /"object" is given twice/],
    ['pkcs11:object=a;colour=blue', /"colour" is not one certbound reads/],
    ['pkcs11:object=a?token=t', /"token" is not one certbound reads/],
    ['pkcs11:object=%zz', /"object" is not percent-encoded correctly/],
    ['pkcs11:object=a;type=public', /type=public: certbound needs the private key/],
    ['pkcs11:token=t', /names no key: give object=/],
    ['file:/etc/key.pem', /not a PKCS#11 URI/],
  ];
  for (const [uri, message] of cases) {
    assert.throws(() => parsePkcs11Uri(uri), { code: 'CB_CONFIG_INVALID', message }, uri);
  }
});
