// certbound/client: token sources over mutual TLS, and fetch with a bound token.
import type { Response } from 'undici';
import {
  createBoundFetch,
  createMtlsAgent,
  createTokenSource,
  type ExchangedToken,
  type TokenSource,
  type TokenSourceOptions,
} from 'certbound/client';
import { expectType, type Equal } from './assert.js';

const tls = { ca: '', cert: '', key: '' };
const tokens = createTokenSource({
  stsUrl: 'https://sts.example/token',
  tls,
  subjectToken: async () => 'subject-token',
  audience: ['https://api.example'],
  scope: ['read', 'write'],
  refreshWindowSeconds: 60,
  retries: 2,
});
expectType<Equal<typeof tokens, TokenSource>>();
expectType<Equal<Awaited<ReturnType<TokenSource['getToken']>>, string>>();
const response: ExchangedToken = await tokens.getTokenResponse();
expectType<Equal<typeof response.expiresAt, number>>();
expectType<Equal<typeof response.scope, string | undefined>>();

const agent = createMtlsAgent(tls);
const boundFetch = createBoundFetch({ tokenSource: tokens, agent });
const answer = await boundFetch('https://api.example/orders', { method: 'GET' });
expectType<Equal<typeof answer, Response>>();

// @ts-expect-error `stsUrl` is required
createTokenSource({ tls, subjectToken: 'x' });
createTokenSource({
  stsUrl: new URL('https://sts.example/token'),
  // @ts-expect-error `subject_token` is the form field; the option is subjectToken
  subject_token: 'x',
});
// @ts-expect-error a client certificate needs its key
createMtlsAgent({ cert: '' });
// @ts-expect-error a bound fetch needs the agent that holds the certificate the token is bound to
createBoundFetch({ tokenSource: tokens });
const options: TokenSourceOptions = { stsUrl: 'https://sts.example/token', subjectTokenFile: '/run/secrets/subject' };
void options;
await tokens.close();

// A client key that stays in a PKCS#11 token goes wherever a PEM key does.
import { openPkcs11TlsKey, type Pkcs11TlsKey } from 'certbound/client';
const keyInToken: Pkcs11TlsKey = await openPkcs11TlsKey({ uri: 'pkcs11:token=t;object=alice', module: '/usr/lib/softhsm/libsofthsm2.so' });
createMtlsAgent({ ca: '', cert: '', key: keyInToken });
createTokenSource({ stsUrl: 'https://sts.example', tls: { cert: '', key: keyInToken }, subjectToken: 's', audience: 'a' });
// @ts-expect-error a TLS key is PEM or a key from openPkcs11TlsKey, not a URI string in an object
createMtlsAgent({ cert: '', key: { uri: 'pkcs11:token=t;object=alice' } });
