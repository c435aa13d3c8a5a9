import { dirname, resolve } from 'node:path';
import { headersOutlastRequest, LIMIT_OPTIONS, type ServerLimits } from '../config/limits.js';
import { parsePolicy, PolicyError } from '../config/policy.js';
import { checkFileKeys, readSettings } from '../config/settings.js';
import { STS_COMMAND_SETTINGS } from '../config/sts-settings.js';
import { ConfigError, FileProblem } from '../core/config-error.js';
import type { AsymmetricAlgorithm } from '../core/rfc.js';
import { createSigningKey, type Signer } from '../core/signing/signer.js';
import { isPkcs11Uri } from '../core/tls-key.js';
import { DEFAULTS } from '../defaults.js';
import { readPrivateKey, readText } from '../files/read.js';
import { loadTlsFiles, type TlsPaths } from '../files/tls-files.js';
import { readYamlMapping } from '../files/yaml.js';
import { readJwksFile } from '../keys/jwks-source.js';
import { openKeystore, type KeystoreProvider } from '../keys/keystore.js';
import { readPinFile } from '../keys/pkcs11-token.js';
import { tokenObjectReaders, type Pkcs11Settings } from '../keys/tls-key-opener.js';
import { openSigningKeyInToken } from './token-signing-key.js';
import { discoveryProblem } from './discovery.js';
import { checkRegisteredGrantTypes } from './grants/registry.js';
import type { StsOptions } from './options.js';

/**
 * Settings that take precedence over the file, by library option name and in library units (the
 * settings of config/sts-settings.ts: `issuer`, `tlsCa`, `handshakeTimeoutMs`, ...). Paths are
 * relative to the current directory. `certbound sts` passes its flags here.
 */
export type StsConfigOverrides = Readonly<Record<string, unknown>> & {
  issuer?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** CRL files; replace the file's tls.crl. */
  tlsCrl?: string[];
  jwtKey?: string;
  jwtKid?: string;
  requireClientId?: boolean;
  publicUrl?: string;
  issuerMetadataElsewhere?: boolean;
};

/** A loaded configuration: the STS's options, and what the process around it needs. */
export interface LoadedStsConfig {
  /** createStsServer's options, less the callbacks (`onEvent`, `now`): `createStsServer({ ...options, onEvent })`. */
  options: Omit<StsOptions, 'now' | 'onEvent' | 'keys'> & { keys?: KeystoreProvider };
  /** The TLS files, to re-read them on a change (ManagedServer.reloadTls). */
  tlsPaths: TlsPaths;
  /** Where to listen and how to stop (the command's business, not the library's). */
  process: {
    host?: string;
    port?: number;
    drainTimeoutMs?: number;
    workers?: number;
    watchDebounceMs?: number;
    adminPort?: number;
    adminHost?: string;
    logLevel?: string;
  };
}

/**
 * Load an STS configuration file (YAML or JSON) and everything it refers to, validating all of
 * it before anything listens. Paths in the file are relative to the file. The keys of the file
 * are the settings in config/sts-settings.ts and the policy (config/policy.ts).
 * @throws FileProblem naming the file, the path inside it and the problem; ConfigError for a bad override.
 */
export async function loadStsConfig(file: string, overrides: StsConfigOverrides = {}): Promise<LoadedStsConfig> {
  const document = await readYamlMapping(file, 'STS configuration');
  checkFileKeys(file, document, STS_COMMAND_SETTINGS, ['policy']);
  const settings: Record<string, unknown> = {
    ...readSettings(STS_COMMAND_SETTINGS, { command: 'sts', flags: {}, file: { path: file, document } }),
    ...definedOnly(overrides),
  };
  const fromFlag = (option: string): boolean => overrides[option] !== undefined;
  requireAll(file, settings);
  const issuer = requirePath(settings.issuer, file, 'issuer', 'issuer');
  const publicUrl = settings.publicUrl as string | undefined;
  const elsewhere = settings.issuerMetadataElsewhere === true;
  const unreachable = elsewhere ? undefined : discoveryProblem(issuer, publicUrl ?? issuer);
  if (unreachable !== undefined) {
    throw new FileProblem(
      fromFlag('publicUrl') ? '--public-url' : file,
      `public_url: ${unreachable}; make public_url the issuer's origin, or set issuer_metadata_elsewhere: true when a proxy there serves the metadata`,
    );
  }

  const pkcs11: Pkcs11Settings & { verifyEachSignature?: boolean | undefined } = {
    module: settings.pkcs11Module as string | undefined,
    pinFile: settings.pkcs11PinFile as string | undefined,
    verifyEachSignature: settings.verifyEachSignature as boolean | undefined,
  };
  const tlsPaths: TlsPaths = {
    ca: requirePath(settings.tlsCa, file, 'tls.ca', 'tls-ca'),
    cert: requirePath(settings.tlsCert, file, 'tls.cert', 'tls-cert'),
    key: requirePath(settings.tlsKey, file, 'tls.key', 'tls-key'),
    crl: (settings.tlsCrl as string[] | undefined) ?? [],
    ...tokenObjectReaders(pkcs11),
  };
  const signing = await loadSigning(file, settings, fromFlag('jwtKey'), pkcs11);
  const limits = Object.fromEntries(
    LIMIT_OPTIONS.flatMap((spec) => (settings[spec.option] === undefined ? [] : [[spec.option, settings[spec.option]]])),
  ) as ServerLimits;
  if (headersOutlastRequest(limits)) throw new FileProblem(file, 'limits.headers_timeout: must not exceed limits.request_timeout');

  let policy;
  try {
    policy = parsePolicy(await inlinePolicyFiles(file, document.policy), 'policy');
    checkRegisteredGrantTypes(policy, 'policy');
  } catch (error) {
    if (error instanceof PolicyError) throw new FileProblem(file, error.message);
    throw error;
  }
  const rateLimit = rateLimitOf(settings, fromFlag('rateLimitBurst') || fromFlag('rateLimitPerSecond') ? undefined : file);
  const options: LoadedStsConfig['options'] = {
    issuer,
    tls: await loadTlsFiles(tlsPaths),
    ...signing,
    policy,
    ...(settings.accessTokenLifetimeSeconds === undefined
      ? {}
      : { accessTokenLifetimeSeconds: settings.accessTokenLifetimeSeconds as number }),
    ...(publicUrl === undefined ? {} : { publicUrl }),
    ...(elsewhere ? { issuerMetadataElsewhere: true } : {}),
    ...(settings.subjectTokenError === undefined
      ? {}
      : { subjectTokenError: settings.subjectTokenError as 'invalid_request' | 'invalid_grant' }),
    ...(settings.requireClientId === undefined ? {} : { requireClientId: settings.requireClientId as boolean }),
    ...(settings.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: settings.bodyLimitBytes as number }),
    ...(rateLimit === undefined ? {} : { rateLimit }),
    limits,
  };
  return {
    options,
    tlsPaths,
    process: definedOnly({
      host: settings.host as string | undefined,
      port: settings.port as number | undefined,
      drainTimeoutMs: settings.drainTimeoutMs as number | undefined,
      workers: settings.workers as number | undefined,
      watchDebounceMs: settings.watchDebounceMs as number | undefined,
      adminPort: settings.adminPort as number | undefined,
      adminHost: settings.adminHost as string | undefined,
      logLevel: settings.logLevel as string | undefined,
    }),
  };
}

/** The signing key, or a keystore (certbound keys generate/rotate) for rotation without restart. */
async function loadSigning(
  file: string,
  settings: Record<string, unknown>,
  keyFromFlag: boolean,
  pkcs11: Pkcs11Settings & { verifyEachSignature?: boolean | undefined },
): Promise<{ signingKey: Signer } | { keys: KeystoreProvider }> {
  const keystore = settings.keystore as string | undefined;
  if (keystore !== undefined && !keyFromFlag) {
    if (settings.jwtKey !== undefined || settings.jwtKid !== undefined || settings.jwtAlg !== undefined)
      throw new FileProblem(file, 'signing: give keystore, or key (with kid/alg), not both');
    const pin = pkcs11.pinFile === undefined ? undefined : await readPinFile(pkcs11.pinFile);
    return {
      keys: await openKeystore(keystore, {
        pkcs11: {
          ...(pkcs11.module === undefined ? {} : { module: pkcs11.module }),
          ...(pin === undefined ? {} : { pin }),
          ...(pkcs11.verifyEachSignature === undefined ? {} : { verifyEachSignature: pkcs11.verifyEachSignature }),
        },
      }),
    };
  }
  const path = requirePath(settings.jwtKey, file, 'signing.key', 'jwt-key');
  const kid = settings.jwtKid as string | undefined;
  const alg = settings.jwtAlg as AsymmetricAlgorithm | undefined;
  if (isPkcs11Uri(path)) return { signingKey: await openSigningKeyInToken(path, kid, alg, pkcs11) };
  const { key } = await readPrivateKey(path, 'JWT signing key');
  try {
    return {
      signingKey: await createSigningKey({ privateKey: key, ...(kid === undefined ? {} : { kid }), ...(alg === undefined ? {} : { alg }) }),
    };
  } catch (error) {
    throw new FileProblem(path, (error as Error).message);
  }
}

/** rate_limit/rate_burst as the option: undefined for the defaults, false for off. */
function rateLimitOf(settings: Record<string, unknown>, file: string | undefined): StsOptions['rateLimit'] {
  const perSecond = settings.rateLimitPerSecond as number | undefined;
  const burst = settings.rateLimitBurst as number | undefined;
  if (perSecond === 0) {
    if (burst !== undefined) {
      throw file === undefined
        ? new ConfigError('--rate-burst', 'has no meaning with --rate-limit 0', 'sts: --rate-burst has no meaning with --rate-limit 0')
        : new FileProblem(file, 'rate_burst: has no meaning with rate_limit: 0');
    }
    return false;
  }
  if (perSecond === undefined && burst === undefined) return undefined;
  const rate = perSecond ?? DEFAULTS.sts.rateLimit.perSecond;
  return { perSecond: rate, burst: burst ?? rate * 2 };
}

/** What an STS cannot start without: its option, its key in the file, its flag. */
const REQUIRED: readonly (readonly [option: string, key: string, flag: string])[] = [
  ['issuer', 'issuer', 'issuer'],
  ['tlsCa', 'tls.ca', 'tls-ca'],
  ['tlsCert', 'tls.cert', 'tls-cert'],
  ['tlsKey', 'tls.key', 'tls-key'],
];

/** Every required setting that is missing, named in one problem, so one run tells all of them. */
function requireAll(file: string, settings: Record<string, unknown>): void {
  const missing = REQUIRED.filter(([option]) => typeof settings[option] !== 'string' || settings[option] === '');
  if (missing.length < 2) return; // one is reported by requirePath, as before
  const list = (words: string[]): string => `${words.slice(0, -1).join(', ')} and ${words.at(-1) as string}`;
  throw new FileProblem(
    file,
    `${list(missing.map(([, key]) => key))}: must be non-empty strings (or give ${list(missing.map(([, , flag]) => `--${flag}`))})`,
  );
}

function requirePath(value: unknown, file: string, key: string, flag: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new FileProblem(file, `${key}: must be a non-empty string (or give --${flag})`);
  return value;
}

function definedOnly<T extends Record<string, unknown>>(values: T): T {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as T;
}

/**
 * The policy with the files it names read in: a trusted issuer's `jwks_file` becomes its `jwks`,
 * and `jwks_ca` (the CA for its https jwks_uri) becomes PEM text. Paths are relative to the file.
 */
async function inlinePolicyFiles(file: string, policy: unknown): Promise<unknown> {
  const issuers = (policy as { trusted_issuers?: unknown } | null)?.trusted_issuers;
  if (!Array.isArray(issuers)) return policy;
  const base = dirname(file);
  const inlined = await Promise.all(
    issuers.map(async (raw: unknown, i) => {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
      const { jwks_file: jwksFile, jwks_ca: jwksCa, ...rest } = raw as Record<string, unknown>;
      const path = `policy.trusted_issuers[${i}]`;
      if (jwksFile !== undefined) {
        if ('jwks' in rest) throw new FileProblem(file, `${path}: give jwks or jwks_file, not both`);
        try {
          rest.jwks = await readJwksFile(resolve(base, nonEmpty(file, jwksFile, `${path}.jwks_file`)));
        } catch (error) {
          throw error instanceof FileProblem ? error : new FileProblem(file, `${path}.jwks_file: ${(error as Error).message}`);
        }
      }
      if (jwksCa !== undefined) rest.jwks_ca = await readText(resolve(base, nonEmpty(file, jwksCa, `${path}.jwks_ca`)), 'JWKS CA bundle');
      return rest;
    }),
  );
  return { ...(policy as Record<string, unknown>), trusted_issuers: inlined };
}

function nonEmpty(file: string, value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new FileProblem(file, `${path}: must be a non-empty string`);
  return value;
}
