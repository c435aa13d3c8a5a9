import { dirname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { parsePolicy, PolicyError } from '../config/policy.js';
import { isAsymmetricAlgorithm } from '../core/rfc.js';
import { createSigningKey, type SigningKey } from '../core/signing/signer.js';
import { openKeystore, type KeystoreProvider } from '../keys/keystore.js';
import { FileProblem, readPrivateKey, readText } from '../files/read.js';
import { loadTlsFiles, type TlsPaths } from '../files/tls-files.js';
import { readJwksFile } from '../keys/jwks-source.js';
import type { ServerLimits } from '../server/limits.js';
import { headersOutlastRequest, LIMIT_SETTINGS, limitValue } from '../config/limit-settings.js';
import { discoveryProblem } from './discovery.js';
import { checkRegisteredGrantTypes } from './grants/index.js';
import type { StsOptions } from './server.js';

/** Command-line values that take precedence over the file (paths relative to the cwd). */
export interface StsConfigOverrides {
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
}

const TOP_LEVEL_KEYS = [
  'issuer', 'tls', 'signing', 'access_token_lifetime', 'public_url', 'issuer_metadata_elsewhere', 'subject_token_error', 'require_client_id', 'limits', 'policy',
];

/**
 * Load an STS configuration file (YAML or JSON) and everything it refers to, validating all of
 * it before anything listens. Paths in the file are relative to the file.
 * @throws FileProblem naming the file, the path inside it and the problem.
 */
export async function loadStsConfig(file: string, overrides: StsConfigOverrides = {}): Promise<Omit<StsOptions, 'now' | 'onEvent' | 'keys'> & { keys?: KeystoreProvider; tlsPaths: TlsPaths }> {
  const text = await readText(file, 'STS configuration');
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos !== undefined ? ` at line ${error.linePos[0].line}` : '';
    throw new FileProblem(file, `not valid YAML${where}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new FileProblem(file, 'must be a YAML mapping');
  const doc = raw as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL_KEYS.includes(key)) throw new FileProblem(file, `${key}: unknown key (expected one of ${TOP_LEVEL_KEYS.join(', ')})`);
  }
  const base = dirname(file);
  const fromFile = (value: unknown, path: string): string => resolve(base, requireString(file, value, path));
  const section = (name: string): Record<string, unknown> => {
    const value = doc[name];
    if (value === undefined) return {};
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new FileProblem(file, `${name}: must be a mapping`);
    return value as Record<string, unknown>;
  };
  const tls = section('tls');
  const signing = section('signing');
  const limits = limitsOf(file, section('limits'));

  const issuer = overrides.issuer ?? requireString(file, doc.issuer, 'issuer');
  if (!URL.canParse(issuer) || !issuer.startsWith('https://')) {
    throw overrides.issuer === undefined ? new FileProblem(file, 'issuer: must be an https URL') : new FileProblem('--issuer', 'must be an https URL');
  }

  const crlEntries = tls.crl === undefined ? [] : Array.isArray(tls.crl) ? tls.crl : [tls.crl];
  const tlsPaths: TlsPaths = {
    ca: overrides.tlsCa ?? fromFile(tls.ca, 'tls.ca'),
    cert: overrides.tlsCert ?? fromFile(tls.cert, 'tls.cert'),
    key: overrides.tlsKey ?? fromFile(tls.key, 'tls.key'),
    crl: overrides.tlsCrl ?? crlEntries.map((entry: unknown, i) => fromFile(entry, `tls.crl[${i}]`)),
  };
  const tlsFiles = await loadTlsFiles(tlsPaths);

  let signingKey: SigningKey | undefined;
  let keys: KeystoreProvider | undefined;
  if (signing.keystore !== undefined && overrides.jwtKey === undefined) {
    // A keystore (certbound keys generate/rotate) instead of one key file: rotation without restart.
    if (signing.key !== undefined || signing.kid !== undefined || signing.alg !== undefined) throw new FileProblem(file, 'signing: give keystore, or key (with kid/alg), not both');
    keys = await openKeystore(fromFile(signing.keystore, 'signing.keystore'));
  } else {
    const jwtKeyPath = overrides.jwtKey ?? fromFile(signing.key, 'signing.key');
    const { key } = await readPrivateKey(jwtKeyPath, 'JWT signing key');
    const alg = signing.alg;
    if (alg !== undefined && !isAsymmetricAlgorithm(alg)) throw new FileProblem(file, 'signing.alg: must be an asymmetric JWS algorithm (ES256, RS256, PS256, EdDSA, ...)');
    const kid = overrides.jwtKid ?? (signing.kid === undefined ? undefined : requireString(file, signing.kid, 'signing.kid'));
    try {
      signingKey = await createSigningKey({ privateKey: key, ...(kid === undefined ? {} : { kid }), ...(alg === undefined ? {} : { alg }) });
    } catch (error) {
      throw new FileProblem(jwtKeyPath, (error as Error).message);
    }
  }

  const lifetime = doc.access_token_lifetime ?? 3600;
  if (!Number.isInteger(lifetime) || (lifetime as number) < 1 || (lifetime as number) > 86_400) {
    throw new FileProblem(file, 'access_token_lifetime: must be an integer number of seconds from 1 to 86400');
  }
  const publicUrl = overrides.publicUrl ?? (doc.public_url === undefined ? undefined : requireString(file, doc.public_url, 'public_url'));
  const publicUrlSource = overrides.publicUrl === undefined ? file : '--public-url';
  if (publicUrl !== undefined && (!URL.canParse(publicUrl) || !publicUrl.startsWith('https://'))) throw new FileProblem(publicUrlSource, 'public_url: must be an https URL');
  const elsewhere = overrides.issuerMetadataElsewhere ?? doc.issuer_metadata_elsewhere ?? false;
  if (typeof elsewhere !== 'boolean') throw new FileProblem(file, 'issuer_metadata_elsewhere: must be true or false');
  const unreachable = elsewhere ? undefined : discoveryProblem(issuer, publicUrl ?? issuer);
  if (unreachable !== undefined) {
    throw new FileProblem(publicUrlSource, `public_url: ${unreachable}; make public_url the issuer's origin, or set issuer_metadata_elsewhere: true when a proxy there serves the metadata`);
  }

  const subjectTokenError = doc.subject_token_error;
  if (subjectTokenError !== undefined && subjectTokenError !== 'invalid_request' && subjectTokenError !== 'invalid_grant') {
    throw new FileProblem(file, 'subject_token_error: must be invalid_request (RFC 8693 §2.2.2, the default) or invalid_grant');
  }

  const requireClientId = overrides.requireClientId ?? doc.require_client_id;
  if (requireClientId !== undefined && typeof requireClientId !== 'boolean') throw new FileProblem(file, 'require_client_id: must be true or false');

  let policy;
  try {
    policy = parsePolicy(await inlinePolicyFiles(file, doc.policy), 'policy');
    checkRegisteredGrantTypes(policy, 'policy');
  } catch (error) {
    if (error instanceof PolicyError) throw new FileProblem(file, error.message);
    throw error;
  }
  return {
    issuer,
    tls: tlsFiles,
    tlsPaths,
    ...(signingKey === undefined ? {} : { signingKey }),
    ...(keys === undefined ? {} : { keys }),
    policy,
    accessTokenLifetimeSeconds: lifetime as number,
    ...(publicUrl === undefined ? {} : { publicUrl }),
    ...(elsewhere ? { issuerMetadataElsewhere: true } : {}),
    ...(subjectTokenError === undefined ? {} : { subjectTokenError }),
    ...(requireClientId === undefined ? {} : { requireClientId }),
    limits,
  };
}

/** The `limits:` section: the server limits, spelled as the flags are (seconds for timeouts). */
function limitsOf(file: string, section: Record<string, unknown>): ServerLimits {
  const limits: ServerLimits = {};
  const known = LIMIT_SETTINGS.map((setting) => setting.name.replaceAll('-', '_'));
  for (const key of Object.keys(section)) {
    if (!known.includes(key)) throw new FileProblem(file, `limits.${key}: unknown key (expected one of ${known.join(', ')})`);
  }
  for (const setting of LIMIT_SETTINGS) {
    const key = setting.name.replaceAll('-', '_');
    if (section[key] === undefined) continue;
    const value = limitValue(setting, section[key]);
    if (typeof value === 'string') throw new FileProblem(file, `limits.${key}: ${value}`);
    limits[setting.option] = value;
  }
  if (headersOutlastRequest(limits)) throw new FileProblem(file, 'limits.headers_timeout: must not exceed limits.request_timeout');
  return limits;
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
          rest.jwks = await readJwksFile(resolve(base, requireString(file, jwksFile, `${path}.jwks_file`)));
        } catch (error) {
          throw error instanceof FileProblem ? error : new FileProblem(file, `${path}.jwks_file: ${(error as Error).message}`);
        }
      }
      if (jwksCa !== undefined) rest.jwks_ca = await readText(resolve(base, requireString(file, jwksCa, `${path}.jwks_ca`)), 'JWKS CA bundle');
      return rest;
    }),
  );
  return { ...(policy as Record<string, unknown>), trusted_issuers: inlined };
}

function requireString(file: string, value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new FileProblem(file, `${path}: must be a non-empty string`);
  return value;
}
