// Every error certbound throws at a caller carries a code: misuse of any public function is a
// ConfigError (a TypeError, code CB_CONFIG_INVALID) whose message names the option.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/core/config-error.js';
import { createRateLimiter } from '../../src/core/rate-limit.js';
import { createSigningKey } from '../../src/core/signing/signer.js';
import { compileSpiffePattern } from '../../src/core/spiffe.js';
import { computeThumbprint, thumbprintFromSha256Hex } from '../../src/core/thumbprint.js';
import { withVerificationCache } from '../../src/core/verification-cache.js';
import { createBoundTokenVerifier, type BoundTokenVerifier } from '../../src/core/verify.js';
import { createBoundFetch } from '../../src/client/bound-fetch.js';
import { createClientIdentity } from '../../src/client/client-identity.js';
import { watchClientIdentity } from '../../src/client/client-identity-files.js';
import { createMtlsAgent } from '../../src/client/mtls-agent.js';
import { createTokenSource } from '../../src/client/token-source.js';
import { parsePolicy } from '../../src/config/policy.js';
import { createCallCredentials, createStsCredentials } from '../../src/grpc/call-credentials.js';
import { createServerInterceptor } from '../../src/grpc/server-interceptor.js';
import { createExpressMiddleware } from '../../src/http/express.js';
import { protect } from '../../src/http/node.js';
import { protectedResourceMetadata } from '../../src/http/resource-metadata.js';
import { resolveTrustedProxyOptions } from '../../src/http/trusted-proxy.js';
import { loadJwksSource } from '../../src/keys/jwks-source.js';
import { createStsServer } from '../../src/sts/server.js';

const verifier: BoundTokenVerifier = { verify: () => Promise.reject(new Error('unused')) };

/** [what, call, the option the message must name] */
const MISUSES: Array<[string, () => unknown, RegExp]> = [
  ['verifier without keys', () => createBoundTokenVerifier({ issuer: 'https://sts', audience: 'a' } as never), /"keys"/],
  [
    'verifier with a fractional skew',
    () => createBoundTokenVerifier({ keys: { keys: [] }, issuer: 'i', audience: 'a', clockToleranceSeconds: 1.5 }),
    /"clockToleranceSeconds"/,
  ],
  ['cache of a non-verifier', () => withVerificationCache({} as never), /"verifier"/],
  ['cache with maxAgeSeconds 0', () => withVerificationCache(verifier, { maxAgeSeconds: 0 }), /"maxAgeSeconds"/],
  ['rate limit with burst 0', () => createRateLimiter({ perSecond: 1, burst: 0 }), /"rateLimit\.burst"/],
  ['token source without a subject token', () => createTokenSource({ stsUrl: 'https://sts', agent: {} as never }), /subjectToken/],
  [
    'token source with a string for retries',
    () => createTokenSource({ stsUrl: 'https://sts', agent: {} as never, subjectToken: 'x', retries: '2' as never }),
    /"retries"/,
  ],
  [
    'bound fetch without an agent, over a source with no identity',
    () => createBoundFetch({ tokenSource: { getToken: () => 't' } } as never),
    /give "agent", or a token source made with "identity" or "tls"/,
  ],
  [
    'bound fetch with a non-agent',
    () => createBoundFetch({ tokenSource: { getToken: () => 't' }, agent: {} } as never),
    /"agent" must be an undici Agent/,
  ],
  [
    'token source with identity and tls',
    () => createTokenSource({ stsUrl: 'https://sts', identity: { current: () => ({}) } as never, tls: {} as never, subjectToken: 'x' }),
    /give "identity" alone/,
  ],
  [
    'STS credentials with an agent',
    () => createStsCredentials({ stsUrl: 'https://sts', tls: {} as never, agent: {} } as never),
    /"agent" is not an option/,
  ],
  ['client identity of no certificate', () => createClientIdentity({ cert: 'not PEM', key: 'not PEM' }), /not a PEM certificate/],
  ['mTLS agent without a key', () => createMtlsAgent({ cert: 'c' } as never), /"tls"/],
  ['call credentials of a non-source', () => createCallCredentials({} as never), /"tokens"/],
  ['STS credentials of null', () => createStsCredentials(null as never), /STS credentials options/],
  ['interceptor with an exempt string', () => createServerInterceptor({ verifier, exempt: 'x' as never }), /"exempt"/],
  ['protect with an http metadata URL', () => protect(() => {}, { verifier, resourceMetadataUrl: 'http://a' }), /"resourceMetadataUrl"/],
  ['Express with onEvent not a function', () => createExpressMiddleware({ verifier, onEvent: 'log' as never }), /"onEvent"/],
  [
    'resource metadata without servers',
    () => protectedResourceMetadata({ resource: 'https://a', authorizationServers: [] }),
    /"authorizationServers"/,
  ],
  [
    'trusted proxy with a host name',
    () => resolveTrustedProxyOptions({ addresses: ['proxy'], format: 'xfcc' }),
    /"trustedProxy\.addresses"/,
  ],
  ['STS with an http issuer', () => createStsServer({ issuer: 'http://sts' } as never), /give exactly one|"issuer"/],
  // A misspelt option must not silently guard nothing.
  [
    'protect with onRefused (it is onEvent)',
    () => protect(() => {}, { verifier, onRefused: () => {} } as never),
    /"onRefused" is not an option/,
  ],
  [
    'verifier with issuers (it is issuer)',
    () => createBoundTokenVerifier({ keys: { keys: [] }, issuers: 'i', audience: 'a' } as never),
    /"issuers" is not an option \(expected one of .*issuer/,
  ],
  [
    'interceptor with requiredScope',
    () => createServerInterceptor({ verifier, requiredScope: 'read' } as never),
    /"requiredScope" is not an option/,
  ],
  ['policy that is no mapping', () => parsePolicy(null), /policy/],
  ['a certificate that is neither DER nor PEM', () => computeThumbprint('hello'), /certificate/],
  ['a SHA-256 that is not hex', () => thumbprintFromSha256Hex('xyz'), /64 hex digits/],
  ['a SPIFFE pattern with a wildcard trust domain', () => compileSpiffePattern('spiffe://*/x'), /trust domain/],
];

test('misuse of every public entry point is a ConfigError (TypeError, CB_CONFIG_INVALID) naming what is wrong', () => {
  for (const [what, call, names] of MISUSES) {
    assert.throws(call, (error: unknown) => {
      assert.ok(error instanceof ConfigError, `${what}: ${String(error)}`);
      assert.ok(error instanceof TypeError, what);
      assert.equal(error.code, 'CB_CONFIG_INVALID', what);
      assert.match(error.message, names, what);
      return true;
    });
  }
});

test('asynchronous misuse too: signing keys and JWKS sources', async () => {
  const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
    ['a signing key that is no key', () => createSigningKey({ privateKey: 'not a key' }), /signing key/],
    ['a JWKS over http', () => loadJwksSource('http://sts.domain.com/jwks.json'), /must use https/],
    [
      'a JWKS source with a negative cooldown',
      () => loadJwksSource('https://sts.domain.com/jwks.json', { cooldownMs: -1 }),
      /"cooldownMs"/,
    ],
    ['client identity files without a key', () => watchClientIdentity({ cert: '/etc/tls/tls.crt' } as never), /"key" must be a file path/],
    [
      'client identity files with a negative debounce',
      () => watchClientIdentity({ cert: '/etc/tls/tls.crt', key: '/etc/tls/tls.key', debounceMs: -1 }),
      /"debounceMs" must be >= 0/,
    ],
    [
      'client identity files that are missing',
      () => watchClientIdentity({ cert: '/nonexistent/tls.crt', key: '/nonexistent/tls.key' }),
      /tls\.crt: client certificate: no such file/,
    ],
  ];
  for (const [what, call, names] of cases) {
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof ConfigError, `${what}: ${String(error)}`);
      assert.equal(error.code, 'CB_CONFIG_INVALID', what);
      assert.match(error.message, names, what);
      return true;
    });
  }
});
