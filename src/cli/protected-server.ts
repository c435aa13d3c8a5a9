import { VERIFIER_SETTINGS } from '../config/protected-settings.js';
import { TLS_SETTINGS } from '../config/server-settings.js';
import { withVerificationCache } from '../core/verification-cache.js';
import { createBoundTokenVerifier, type BoundTokenVerifier } from '../core/verify.js';
import { DEFAULTS } from '../defaults.js';
import { loadTlsFiles, type TlsFiles } from '../files/tls-files.js';
import { loadJwksSource, type JwksEvent, type JwksSource } from '../keys/jwks-source.js';
import { UsageError } from './errors.js';
import type { Reloadable } from './serve.js';
import { flagOf, requireSetting, tlsPathsOf, tlsReloader, type CommandSettings } from './settings.js';

/** Verifications the token-checking servers keep by default (--token-cache). */
export const DEFAULT_TOKEN_CACHE_ENTRIES = DEFAULTS.verification.tokenCacheEntries;

const [JWKS, ISSUER, AUDIENCE] = VERIFIER_SETTINGS;
const [CA, CERT, KEY] = TLS_SETTINGS;

export interface ProtectedServerSetup {
  tls: TlsFiles;
  issuer: string;
  audience: string[];
  verifier: BoundTokenVerifier;
  /** What SIGHUP re-reads: the JWKS (file or URL), then the TLS files; `applyTls` installs new TLS. */
  reloadables: (applyTls: (tls: TlsFiles) => void) => Reloadable[];
}

/**
 * TLS files (with CRLs), issuer, audiences and the verifier over the --jwks keys (a file, or an
 * https URL fetched with --tls-ca), all checked before anything listens.
 */
export async function loadProtectedServer(
  command: string,
  settings: CommandSettings,
  log: (event: JwksEvent) => void = () => {},
): Promise<ProtectedServerSetup> {
  const paths = tlsPathsOf(command, settings, { ca: CA, cert: CERT, key: KEY });
  const tls = await loadTlsFiles(paths);
  const { issuer, audience, verifier, keys } = await loadVerifier(command, settings, tls.ca, log);
  return {
    tls,
    issuer,
    audience,
    verifier,
    reloadables: (applyTls) => [
      { name: 'jwks', reload: () => keys.refresh() },
      { name: 'tls', reload: tlsReloader(paths, applyTls) },
    ],
  };
}

/**
 * The issuer, audiences and verifier over the --jwks keys (a file, or an https URL fetched with
 * `ca`, else the system CAs), with the verification cache: what every token-checking server
 * builds the same way.
 */
export async function loadVerifier(
  command: string,
  settings: CommandSettings,
  ca: string | undefined,
  log: (event: JwksEvent) => void,
): Promise<{ issuer: string; audience: string[]; verifier: BoundTokenVerifier; keys: JwksSource }> {
  const issuer = requireSetting<string>(command, settings, ISSUER);
  if (!URL.canParse(issuer)) throw new UsageError(`${command}: ${flagOf(settings, ISSUER)} must be the issuer URL the tokens carry in iss`);
  const audience = requireSetting<string[]>(command, settings, AUDIENCE);
  const maxStale = settings.values.jwksMaxStaleMs as number | undefined;
  const clockSkew = settings.values.clockToleranceSeconds as number | undefined;
  // On by default: the benchmark measured 63-70% verification overhead without it, 8-21% with it.
  const cacheEntries = (settings.values.tokenCacheEntries as number | undefined) ?? DEFAULT_TOKEN_CACHE_ENTRIES;
  const keys: JwksSource = await loadJwksSource(requireSetting<string>(command, settings, JWKS), {
    ...(ca === undefined ? {} : { ca }),
    onEvent: log,
    ...(maxStale === undefined ? {} : { maxStalenessMs: maxStale }),
  });
  let verifier: BoundTokenVerifier;
  try {
    verifier = createBoundTokenVerifier({
      keys,
      issuer,
      audience,
      ...(clockSkew === undefined ? {} : { clockToleranceSeconds: clockSkew }),
    });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`);
  }
  if (cacheEntries > 0) verifier = withVerificationCache(verifier, { maxEntries: cacheEntries });
  return { issuer, audience, verifier, keys };
}
