import { withVerificationCache } from '../core/verification-cache.js';
import { createBoundTokenVerifier, MAX_CLOCK_TOLERANCE_SECONDS, type BoundTokenVerifier } from '../core/verify.js';
import { loadTlsFiles, type TlsFiles, type TlsPaths } from '../files/tls-files.js';
import { loadJwksSource, type JwksEvent, type JwksSource } from '../keys/jwks-source.js';
import { requireString, stringList, type Parsed } from './args.js';
import { UsageError } from './errors.js';
import type { Reloadable } from './serve.js';
import { crlPathsOf, integerFlag, SERVER_OPTIONS, tlsReloader } from './server-options.js';
import { DEFAULTS } from '../defaults.js';

/** Verifications the token-checking servers keep by default (--token-cache). */
export const DEFAULT_TOKEN_CACHE_ENTRIES = DEFAULTS.verification.tokenCacheEntries;

/** The flags every token-checking server shares (resource, grpc-server). */
export const PROTECTED_SERVER_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  jwks: { type: 'string' },
  'jwks-max-stale': { type: 'string' },
  'clock-skew': { type: 'string' },
  'token-cache': { type: 'string' },
  issuer: { type: 'string' },
  audience: { type: 'string', multiple: true },
  ...SERVER_OPTIONS,
} as const;

export interface ProtectedServerSetup {
  tls: TlsFiles;
  issuer: string;
  audience: string[];
  verifier: BoundTokenVerifier;
  /** What SIGHUP re-reads: the JWKS (file or URL), then the TLS files; `applyTls` installs new TLS. */
  reloadables(applyTls: (tls: TlsFiles) => void): Reloadable[];
}

/**
 * TLS files (with CRLs), issuer, audiences and the verifier over the --jwks keys (a file, or an
 * https URL fetched with --tls-ca), all checked before anything listens.
 */
export async function loadProtectedServer(command: string, parsed: Parsed, log: (event: JwksEvent) => void = () => {}): Promise<ProtectedServerSetup> {
  const paths: TlsPaths = {
    ca: requireString(command, parsed, 'tls-ca'),
    cert: requireString(command, parsed, 'tls-cert'),
    key: requireString(command, parsed, 'tls-key'),
    crl: crlPathsOf(parsed),
  };
  const tls = await loadTlsFiles(paths);
  const issuer = requireString(command, parsed, 'issuer');
  if (!URL.canParse(issuer)) throw new UsageError(`${command}: --issuer must be the issuer URL the tokens carry in iss`);
  const audience = stringList(parsed, 'audience');
  if (audience.length === 0) throw new UsageError(`${command}: --audience is required`);
  const maxStale = integerFlag(command, parsed, 'jwks-max-stale', 0, 7 * 24 * 3600);
  const clockSkew = integerFlag(command, parsed, 'clock-skew', 0, MAX_CLOCK_TOLERANCE_SECONDS);
  // On by default: the benchmark measured 63-73% verification overhead without it, 8-21% with it.
  const cacheEntries = integerFlag(command, parsed, 'token-cache', 0, 10_000_000) ?? DEFAULT_TOKEN_CACHE_ENTRIES;
  const keys: JwksSource = await loadJwksSource(requireString(command, parsed, 'jwks'), {
    ca: tls.ca,
    onEvent: log,
    ...(maxStale === undefined ? {} : { maxStalenessMs: maxStale * 1000 }),
  });
  let verifier: BoundTokenVerifier;
  try {
    verifier = createBoundTokenVerifier({ keys, issuer, audience, ...(clockSkew === undefined ? {} : { clockToleranceSeconds: clockSkew }) });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`);
  }
  if (cacheEntries > 0) verifier = withVerificationCache(verifier, { maxEntries: cacheEntries });
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
