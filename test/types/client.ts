// certbound/client: token sources over mutual TLS, and fetch with a bound token.
import type { Response } from 'undici';
import {
  createBoundFetch,
  createClientIdentity,
  watchClientIdentity,
  type BoundFetch,
  type ClientIdentity,
  type ClientIdentityEvent,
  type ClientIdentitySnapshot,
  type WatchedClientIdentity,
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
// @ts-expect-error a bound fetch needs a token source (the agent alone holds no token)
createBoundFetch({ agent });
// Without an agent, bound fetch follows the token source's identity; it closes what it opened.
const following: BoundFetch = createBoundFetch({ tokenSource: tokens, servername: 'api.example' });
await following.close();
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

// A client identity: in memory (update()) or following files (reload()); snapshots are read-only.
const inMemory: ClientIdentity = createClientIdentity(
  { ca: '', cert: '', key: '' },
  { onEvent: (event: ClientIdentityEvent) => void event.type },
);
const snapshot: ClientIdentitySnapshot = inMemory.update({ cert: '', key: '' });
expectType<Equal<typeof snapshot.thumbprint, string>>();
// @ts-expect-error a snapshot never changes: a rotation makes a new one
snapshot.thumbprint = 'x';
const stopListening: () => void = inMemory.onChange((next, previous) => void [next.serial, previous.serial]);
void stopListening;
const watched: WatchedClientIdentity = await watchClientIdentity({
  cert: '/etc/tls/tls.crt',
  key: '/etc/tls/tls.key',
  ca: '/etc/tls/ca.crt',
  debounceMs: 100,
});
expectType<Equal<Awaited<ReturnType<WatchedClientIdentity['reload']>>, boolean>>();
const followingTokens = createTokenSource({
  stsUrl: 'https://sts.example',
  identity: watched,
  subjectTokenFile: '/run/secrets/subject',
  audience: 'a',
});
expectType<Equal<typeof followingTokens.identity, ClientIdentity | undefined>>();
const bound: ExchangedToken = await followingTokens.getTokenFor(watched.current());
void bound;
followingTokens.invalidate(watched.current().thumbprint);
// @ts-expect-error files are named by path; PEM text goes to createClientIdentity
await watchClientIdentity({ cert: Buffer.from(''), key: '' });
