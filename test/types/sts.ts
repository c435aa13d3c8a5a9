// certbound/sts: the STS server, its options, policy and keys.
import {
  createSigningKey,
  createStsHandler,
  createStsServer,
  loadStsConfig,
  openKeystore,
  openPkcs11Signer,
  parsePolicy,
  staticKeyProvider,
  ConfigError,
  FileProblem,
  PolicyError,
  type ManagedServer,
  type Pkcs11Signer,
  type Policy,
  type Signer,
  type SigningKey,
  type StsEvent,
  type StsOptions,
} from 'certbound/sts';
import { ConfigError as CoreConfigError } from 'certbound';
import { expectType, type Equal } from './assert.js';

const tls = { ca: '', cert: '', key: '' };
const policy: Policy = parsePolicy({ clients: [] });
const signingKey = await createSigningKey({ privateKey: '-----BEGIN PRIVATE KEY-----\n...', kid: 'k1', alg: 'ES256' });
expectType<Equal<typeof signingKey, SigningKey>>();
expectType<Equal<ReturnType<SigningKey['sign']>, Uint8Array | Promise<Uint8Array>>>();

const sts = createStsServer({
  issuer: 'https://sts.example',
  signingKey,
  policy,
  tls,
  accessTokenLifetimeSeconds: 600,
  rateLimit: { perSecond: 10, burst: 20 },
  limits: { maxInFlight: 100, headersTimeoutMs: 5000 },
  onEvent: (event) => {
    // StsEvent is a union discriminated by `type`.
    switch (event.type) {
      case 'token.issued':
        expectType<Equal<typeof event.jti, string>>();
        break;
      case 'token.refused':
      case 'introspection.refused':
        expectType<Equal<typeof event.code, string>>();
        break;
      case 'server.error':
        expectType<Equal<typeof event.detail, string>>();
        break;
      default: {
        const unhandled: never = event;
        void unhandled;
      }
    }
  },
});
expectType<Equal<typeof sts, ManagedServer>>();
const url: URL = await sts.listen(0, '127.0.0.1');
void url;
sts.reloadTls(tls);
await sts.close();
createStsServer({ issuer: 'https://sts.example', keys: staticKeyProvider(signingKey), policy, tls, rateLimit: false });
createStsServer({
  issuer: 'https://sts.example',
  keys: await openKeystore('/var/lib/certbound/keys'),
  policy,
  tls,
  subjectTokenError: 'invalid_grant',
});
// A key that never leaves a PKCS#11 token signs as any other Signer does.
const hardware = await openPkcs11Signer({ uri: 'pkcs11:token=sts;object=jwt;type=private', module: '/usr/lib/softhsm/libsofthsm2.so' });
expectType<Equal<typeof hardware, Pkcs11Signer>>();
const asSigner: Signer = hardware;
createStsServer({ issuer: 'https://sts.example', signingKey: hardware, policy, tls });
// @ts-expect-error a PIN is a string (from a file or the environment), never a number
void openPkcs11Signer({ uri: 'pkcs11:object=jwt', pin: 1234 });
hardware.close();
void asSigner;
const handler = createStsHandler({ issuer: 'https://sts.example', signingKey, policy, tls });
void handler;

// @ts-expect-error `policy` is required
createStsServer({ issuer: 'https://sts.example', signingKey, tls });
// @ts-expect-error subjectTokenError is invalid_request or invalid_grant
createStsServer({ issuer: 'https://sts.example', signingKey, policy, tls, subjectTokenError: 'invalid_token' });
createStsServer({
  issuer: 'https://sts.example',
  signingKey,
  policy,
  tls,
  // @ts-expect-error `tokenLifetimeSeconds` is not an option (it is accessTokenLifetimeSeconds)
  tokenLifetimeSeconds: 600,
});
// @ts-expect-error signing algorithms are asymmetric only
await createSigningKey({ privateKey: 'secret', alg: 'HS256' });

// A config file gives StsOptions less the callbacks.
const loaded = await loadStsConfig('sts.yaml', { issuer: 'https://sts.example' });
const fromFile: StsOptions = { ...loaded.options, onEvent: (event: StsEvent) => void event.type };
void fromFile;

// Errors: ConfigError is one class wherever it comes from; FileProblem and PolicyError refine it.
expectType<Equal<typeof ConfigError, typeof CoreConfigError>>();
declare const failure: unknown;
if (failure instanceof FileProblem) {
  const asConfig: ConfigError = failure;
  void asConfig;
}
if (failure instanceof PolicyError) void failure.message;
