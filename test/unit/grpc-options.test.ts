import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BoundTokenVerifier } from '../../src/core/verify.js';
import { createStsCredentials, type StsCredentialsOptions } from '../../src/grpc/call-credentials.js';
import { createServerInterceptor, type ServerInterceptorOptions } from '../../src/grpc/server-interceptor.js';

// Option validation only: nothing here opens a socket or reads a file.
const verifier: BoundTokenVerifier = { verify: () => Promise.reject(new Error('not called')) };
const interceptor = (options: unknown) => () => createServerInterceptor(options as ServerInterceptorOptions);

describe('createServerInterceptor options', () => {
  test('valid options give an interceptor function', () => {
    assert.equal(typeof createServerInterceptor({ verifier }), 'function');
    const full = createServerInterceptor({
      verifier,
      exempt: ['grpc.health.v1.Health', '/echo.EchoServer/SayHello'],
      requiredScopes: { 'echo.EchoServer': ['read'], '/echo.EchoServer/SayHelloChat': ['read', 'write'] },
      onEvent: () => {},
    });
    assert.equal(typeof full, 'function');
  });

  const refusals: Array<[string, unknown, RegExp]> = [
    ['no options', undefined, /options must be an object/],
    ['no verifier', {}, /"verifier"/],
    ['a verifier without verify()', { verifier: {} }, /"verifier"/],
    ['an exempt entry that is not a string', { verifier, exempt: [42] }, /"exempt" entries/],
    ['exempt given as one string, not a list', { verifier, exempt: 'grpc.health.v1.Health' }, /"exempt" must be a list/],
    ['an exempt path without a method', { verifier, exempt: ['/echo.EchoServer/'] }, /"exempt" entries.*"\/echo\.EchoServer\/"/],
    ['an exempt entry with a space', { verifier, exempt: ['echo EchoServer'] }, /"exempt" entries/],
    ['an empty exempt entry', { verifier, exempt: [''] }, /"exempt" entries/],
    [
      'a requiredScopes key that is no method or service',
      { verifier, requiredScopes: { 'echo/Say Hello': ['read'] } },
      /"requiredScopes" keys/,
    ],
    [
      'requiredScopes given as a string',
      { verifier, requiredScopes: { 'echo.EchoServer': 'read' } },
      /"requiredScopes\.echo\.EchoServer" must be a list of scope tokens/,
    ],
    ['a scope with a space', { verifier, requiredScopes: { 'echo.EchoServer': ['read write'] } }, /scope tokens/],
    ['a scope with a double quote', { verifier, requiredScopes: { 'echo.EchoServer': ['re"ad'] } }, /scope tokens/],
    ['an empty scope', { verifier, requiredScopes: { 'echo.EchoServer': [''] } }, /scope tokens/],
    ['onEvent that is not a function', { verifier, onEvent: 'log' }, /"onEvent" must be a function/],
  ];
  for (const [name, options, message] of refusals) {
    test(`${name} is a TypeError`, () => {
      assert.throws(interceptor(options), (error: unknown) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

describe('createStsCredentials options', () => {
  // Never used to connect: every case below is refused before any TLS context is built.
  const tls = { ca: 'ca', cert: 'cert', key: 'key' };
  const base = { stsUrl: 'https://sts.domain.com:8081', tls, subjectToken: 'iamtheeggman', audience: 'https://grpc.domain.com:50051' };
  const refusals: Array<[string, unknown, RegExp]> = [
    ['no options', undefined, /options must be an object/],
    ['no tls', { ...base, tls: undefined }, /"tls"/],
    ['tls without a certificate', { ...base, tls: { ca: 'ca', key: 'key' } }, /"tls" must give the client certificate/],
    ['tls without a key', { ...base, tls: { ca: 'ca', cert: 'cert' } }, /"tls" must give the client certificate/],
    [
      'both subjectToken and subjectTokenFile',
      { ...base, subjectTokenFile: '/var/run/secrets/sts' },
      /exactly one of "subjectToken" and "subjectTokenFile"/,
    ],
    [
      'neither subjectToken nor subjectTokenFile',
      { ...base, subjectToken: undefined },
      /exactly one of "subjectToken" and "subjectTokenFile"/,
    ],
    ['an empty subjectTokenFile', { ...base, subjectToken: undefined, subjectTokenFile: '' }, /"subjectTokenFile" must be a file path/],
    ['an empty subjectToken', { ...base, subjectToken: '' }, /"subjectToken" must be a non-empty string or a function/],
    ['an http stsUrl', { ...base, stsUrl: 'http://sts.domain.com:8081' }, /"stsUrl" must be an https URL/],
    ['an stsUrl that is no URL', { ...base, stsUrl: 'sts.domain.com' }, /"stsUrl" must be a URL/],
    ['a non-positive timeoutMs', { ...base, timeoutMs: 0 }, /"timeoutMs"/],
    ['a negative refreshWindowSeconds', { ...base, refreshWindowSeconds: -1 }, /"refreshWindowSeconds"/],
  ];
  for (const [name, options, message] of refusals) {
    test(`${name} is a TypeError`, () => {
      assert.throws(
        () => createStsCredentials(options as StsCredentialsOptions),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, String(error));
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});
