import { VERIFIER_SETTINGS } from '../config/protected-settings.js';
import { TLS_SETTINGS } from '../config/server-settings.js';
import { withVerificationCache } from '../core/verification-cache.js';
import { createBoundTokenVerifier, type BoundTokenVerifier } from '../core/verify.js';
import { DEFAULTS } from '../defaults.js';
import { loadTlsFiles, type TlsFiles } from '../files/tls-files.js';
import { isJwksUrl, loadJwksSource, type JwksEvent, type JwksSource } from '../keys/jwks-source.js';
import type { CertboundError } from '../core/errors.js';
import { OperationFailed, UsageError } from './errors.js';
import type { Operations } from './operations.js';
import type { Reloadable } from './reload.js';
import { flagOf, requireSetting, tlsPathsOf, tlsReloadable, type CommandSettings } from './settings.js';

/** Verifications the token-checking servers keep by default (--token-cache). */
export const DEFAULT_TOKEN_CACHE_ENTRIES = DEFAULTS.verification.tokenCacheEntries;

const [JWKS, ISSUER, AUDIENCE] = VERIFIER_SETTINGS;
const [CA, CERT, KEY] = TLS_SETTINGS;

export interface ProtectedServerSetup {
  tls: TlsFiles;
  issuer: string;
  audience: string[];
  verifier: BoundTokenVerifier;
  /** What SIGHUP (and a change to its files) re-reads: the JWKS (file or URL), then the TLS files; `applyTls` installs new TLS. */
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
  operations?: Operations,
): Promise<ProtectedServerSetup> {
  const paths = tlsPathsOf(command, settings, { ca: CA, cert: CERT, key: KEY });
  const tls = await loadTlsFiles(paths);
  const { issuer, audience, verifier, keys } = await loadVerifier(command, settings, tls.ca, log, operations);
  return {
    tls,
    issuer,
    audience,
    verifier,
    reloadables: (applyTls) => [jwksReloadable(settings, keys), tlsReloadable(paths, applyTls)],
  };
}

/** The --jwks keys as a reloadable: a file is followed on disk, a URL re-fetched on SIGHUP. */
export function jwksReloadable(settings: CommandSettings, keys: JwksSource): Reloadable {
  const location = settings.values[JWKS.option] as string;
  return { name: 'jwks', reload: () => keys.refresh(), ...(isJwksUrl(location) ? {} : { files: [location] }) };
}

/**
 * Fetch a JWKS URL before listening, so a wrong URL or CA stops the server at start rather than
 * answering 503 to every request. With --start-without-jwks (an issuer that starts later) the
 * fetch runs in the background, and /readyz says not ready until it succeeds.
 */
async function fetchAtStart(command: string, settings: CommandSettings, location: string, keys: JwksSource): Promise<void> {
  if (settings.values.startWithoutJwks === true) {
    keys.refresh().catch(() => {}); // reported as jwks.fetch_failed; requests and probes try again
    return;
  }
  try {
    await keys.refresh();
  } catch (error) {
    const why = (error as CertboundError).detail ?? (error as Error).message;
    throw new OperationFailed(
      `${command}: cannot fetch the JWKS ${location} (${why.replace(`${location}: `, '')}): start the issuer first, check ${flagOf(settings, JWKS)} and the CA it is checked against, or give --start-without-jwks to listen and fetch it later`,
    );
  }
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
  operations?: Operations,
): Promise<{ issuer: string; audience: string[]; verifier: BoundTokenVerifier; keys: JwksSource }> {
  const issuer = requireSetting<string>(command, settings, ISSUER);
  if (!URL.canParse(issuer)) throw new UsageError(`${command}: ${flagOf(settings, ISSUER)} must be the issuer URL the tokens carry in iss`);
  const audience = requireSetting<string[]>(command, settings, AUDIENCE);
  const maxStale = settings.values.jwksMaxStaleMs as number | undefined;
  const clockSkew = settings.values.clockToleranceSeconds as number | undefined;
  // On by default: the benchmark measured 63-70% verification overhead without it, 8-21% with it.
  const cacheEntries = (settings.values.tokenCacheEntries as number | undefined) ?? DEFAULT_TOKEN_CACHE_ENTRIES;
  const location = requireSetting<string>(command, settings, JWKS);
  // The fetch at start reports its failure as the command's one error line, not also as an event.
  let starting = true;
  const keys: JwksSource = await loadJwksSource(location, {
    ...(ca === undefined ? {} : { ca }),
    onEvent: (event) => {
      if (!(starting && event.type === 'jwks.fetch_failed' && settings.values.startWithoutJwks !== true)) log(event);
    },
    ...(maxStale === undefined ? {} : { maxStalenessMs: maxStale }),
  });
  if (isJwksUrl(location)) await fetchAtStart(command, settings, location, keys);
  starting = false;
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
  if (cacheEntries > 0) {
    const onLookup = operations?.cacheLookups;
    verifier = withVerificationCache(verifier, { maxEntries: cacheEntries, ...(onLookup === undefined ? {} : { onLookup }) });
  }
  if (operations !== undefined) {
    verifier = operations.timeVerifier(verifier);
    operations.followJwks(keys);
  }
  return { issuer, audience, verifier, keys };
}
