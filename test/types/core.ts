// certbound (the core): the verifier, its options, the token it returns, thumbprints.
import { createRemoteJWKSet, type JSONWebKeySet, type JWTPayload } from 'jose';
import {
  computeThumbprint,
  createBoundTokenVerifier,
  isWellFormedThumbprint,
  parseBearerAuthorization,
  parseScope,
  requireScopes,
  thumbprintsEqual,
  withVerificationCache,
  GRANT_TYPE_TOKEN_EXCHANGE,
  type AsymmetricAlgorithm,
  type BoundTokenVerifier,
  type VerifiedToken,
  type VerifierOptions,
} from 'certbound';
import { expectType, type Equal } from './assert.js';

declare const jwks: JSONWebKeySet;
declare const der: Uint8Array;
declare const token: string;

const verifier = createBoundTokenVerifier({
  keys: jwks,
  issuer: 'https://sts.example',
  audience: ['https://api.example'],
  algorithms: ['ES256', 'EdDSA'],
  clockToleranceSeconds: 30,
  now: () => Date.now(),
});
expectType<Equal<typeof verifier, BoundTokenVerifier>>();
// A key resolver (jose's remote JWKS) is accepted in place of a JWKS document.
createBoundTokenVerifier({
  keys: createRemoteJWKSet(new URL('https://sts.example/jwks')),
  issuer: ['https://a.example', 'https://b.example'],
  audience: 'https://api.example',
});

// Option typos and wrong types are compile errors, not silently ignored keys.
createBoundTokenVerifier({
  keys: jwks,
  // @ts-expect-error `issuers` is not an option (it is `issuer`)
  issuers: 'https://sts.example',
  audience: 'https://api.example',
});
createBoundTokenVerifier({
  keys: jwks,
  issuer: 'https://sts.example',
  audience: 'https://api.example',
  // @ts-expect-error `clockTolerance` is jose's name; certbound's is clockToleranceSeconds
  clockTolerance: 30,
});
// @ts-expect-error `audience` is required
createBoundTokenVerifier({ keys: jwks, issuer: 'https://sts.example' });
// @ts-expect-error symmetric algorithms cannot be allowed
createBoundTokenVerifier({ keys: jwks, issuer: 'https://sts.example', audience: 'https://api.example', algorithms: ['HS256'] });
// @ts-expect-error nor `none`
createBoundTokenVerifier({ keys: jwks, issuer: 'https://sts.example', audience: 'https://api.example', algorithms: ['none'] });
// @ts-expect-error the skew is a number of seconds
createBoundTokenVerifier({ keys: jwks, issuer: 'https://sts.example', audience: 'https://api.example', clockToleranceSeconds: '30s' });

const options: VerifierOptions = { keys: jwks, issuer: 'https://sts.example', audience: 'https://api.example' };
const algorithm: AsymmetricAlgorithm = 'PS256';
void options;
void algorithm;

// What a verification returns.
const verified = await verifier.verify(token, computeThumbprint(der));
expectType<Equal<typeof verified, VerifiedToken>>();
expectType<Equal<typeof verified.subject, string>>();
expectType<Equal<typeof verified.clientId, string | undefined>>();
expectType<Equal<typeof verified.scopes, string[]>>();
expectType<Equal<typeof verified.thumbprint, string>>();
expectType<Equal<typeof verified.claims, JWTPayload>>();
// @ts-expect-error the verifier needs the peer certificate's thumbprint (or undefined), not the certificate
await verifier.verify(token, der);
// @ts-expect-error the subject is `subject`; the raw claim is `claims.sub`
void verified.sub;
requireScopes(verified, ['read', 'write']);
// @ts-expect-error scopes are a list, not a space-separated string
requireScopes(verified, 'read write');

// The cache wraps a verifier and is still one.
const cached: BoundTokenVerifier = withVerificationCache(verifier, { maxEntries: 1000 });
void cached;

// Thumbprints and helpers.
expectType<Equal<ReturnType<typeof computeThumbprint>, string>>();
computeThumbprint('-----BEGIN CERTIFICATE-----\n...');
declare const header: unknown;
if (isWellFormedThumbprint(header)) expectType<Equal<typeof header, string>>();
expectType<Equal<ReturnType<typeof thumbprintsEqual>, boolean>>();
expectType<Equal<ReturnType<typeof parseScope>, string[]>>();
void parseBearerAuthorization;
expectType<Equal<typeof GRANT_TYPE_TOKEN_EXCHANGE, 'urn:ietf:params:oauth:grant-type:token-exchange'>>();
