import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { CertboundError } from '../core/errors.js';
import { readText } from '../files/read.js';
import { DEFAULTS } from '../defaults.js';
import * as v from 'valibot';
import { FileProblem } from '../core/config-error.js';
import { callable, nonEmpty, optionsObject, parseOptions } from '../core/schema.js';

/** What a key source reports, for logs. Never carries key material. */
export type JwksEvent =
  | { type: 'jwks.fetch_failed'; url: string; detail: string; keysAgeSeconds?: number }
  | { type: 'jwks.recovered' | 'jwks.refreshed'; url: string; keys: number }
  | { type: 'jwks.expired'; url: string; keysAgeSeconds: number };

export interface JwksSourceOptions {
  /** CA bundle (PEM) that the JWKS URL's server certificate must chain to; system CAs when absent. */
  ca?: string | Buffer;
  /** TLS server name to verify, when it differs from the URL's host. */
  servername?: string;
  /** How old fetched keys may get before a refresh is started, in ms (default 5 min). */
  cacheMaxAgeMs?: number;
  /** Least time between two fetches caused by unknown kids or failures, in ms (default 30 s). */
  cooldownMs?: number;
  /**
   * While the URL is unreachable, keys from the last good fetch keep verifying until they are
   * this old, in ms (default 1 h); then every token is refused until the URL answers again.
   */
  maxStalenessMs?: number;
  /** Per-fetch timeout in ms (default 5 s). */
  timeoutMs?: number;
  onEvent?: (event: JwksEvent) => void;
  /** Clock in ms, injectable for tests. */
  now?: () => number;
}

export const JWKS_SOURCE_DEFAULTS = DEFAULTS.jwks;

const MS = 'must be a number of milliseconds >= 0';
const milliseconds = (fallback: number) => v.optional(v.pipe(v.number(MS), v.finite(MS), v.minValue(0, MS)), fallback);
const JWKS_SOURCE_OPTIONS = optionsObject(
  {
    ca: v.optional(v.custom<string | Buffer>((ca) => typeof ca === 'string' || Buffer.isBuffer(ca), 'must be PEM text or a Buffer')),
    servername: v.optional(nonEmpty()),
    cacheMaxAgeMs: milliseconds(JWKS_SOURCE_DEFAULTS.cacheMaxAgeMs),
    cooldownMs: milliseconds(JWKS_SOURCE_DEFAULTS.cooldownMs),
    maxStalenessMs: milliseconds(JWKS_SOURCE_DEFAULTS.maxStalenessMs),
    timeoutMs: v.optional(
      v.pipe(v.number('must be > 0'), v.finite('must be > 0'), v.gtValue(0, 'must be > 0')),
      JWKS_SOURCE_DEFAULTS.timeoutMs,
    ),
    onEvent: v.optional(callable<(event: JwksEvent) => void>('must be a function'), () => () => {}),
    now: v.optional(callable<() => number>('must be a function returning milliseconds'), () => Date.now),
  },
  'JWKS source options must be an object',
);

/** A key resolver for jose that can also be told to re-read its keys (SIGHUP). */
export type JwksSource = JWTVerifyGetKey & {
  /** Re-read the file or re-fetch the URL now; on failure the current keys stay. */
  refresh(): Promise<void>;
  /** The keys in use now, for readiness and metrics. */
  status(): JwksStatus;
};

export interface JwksStatus {
  /** When the keys in use were read or fetched (ms); undefined before the first good fetch, or once they expired. */
  loadedAt: number | undefined;
  /** True while they may verify: loaded and, for a URL, not older than maxStalenessMs. */
  usable: boolean;
}

/**
 * Where verification keys come from: a JWKS file (re-read by refresh()), or an https URL.
 * @throws FileProblem naming the file or URL when it cannot be used.
 */
export async function loadJwksSource(location: string, options: JwksSourceOptions = {}): Promise<JwksSource> {
  parseOptions(JWKS_SOURCE_OPTIONS, options);
  if (isJwksUrl(location)) return remoteJwksSource(location, options);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new FileProblem(location, 'JWKS URLs must use https');
  }
  const now = options.now ?? Date.now;
  let keys = createLocalJWKSet(await readJwksFile(location));
  let loadedAt = now();
  const source = ((header, token) => keys(header, token)) as JwksSource;
  source.refresh = async () => {
    keys = createLocalJWKSet(await readJwksFile(location));
    loadedAt = now();
  };
  source.status = () => ({ loadedAt, usable: true });
  return source;
}

/** Whether a JWKS location is an https URL (fetched) rather than a file (read). */
export function isJwksUrl(location: string): boolean {
  return /^https:\/\//i.test(location);
}

/**
 * An https JWKS URL as a key resolver that survives outages: keys are fetched lazily and
 * refreshed in the background once older than cacheMaxAgeMs; a token naming an unknown kid
 * triggers a re-fetch (at most once per cooldown); when fetches fail, the last good keys keep
 * working for maxStalenessMs and the failure is reported, never hidden.
 */
export function remoteJwksSource(location: string, options: JwksSourceOptions = {}): JwksSource {
  const { ca, servername, cacheMaxAgeMs, cooldownMs, maxStalenessMs, timeoutMs, onEvent, now } = parseOptions(JWKS_SOURCE_OPTIONS, options);
  const url = new URL(location);
  const dispatcher = new Agent({
    connect: { ...(ca === undefined ? {} : { ca }), ...(servername === undefined ? {} : { servername }) },
  });
  let current: { keys: JWTVerifyGetKey; count: number; fetchedAt: number } | undefined;
  let inFlight: Promise<void> | undefined;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let lastError: Error | undefined;
  let failing = false;

  const fetchKeys = (): Promise<void> =>
    (inFlight ??= (async () => {
      lastAttempt = now();
      try {
        const document = await fetchJwks(url, dispatcher, timeoutMs);
        current = { keys: createLocalJWKSet(document), count: document.keys.length, fetchedAt: now() };
        lastError = undefined;
        onEvent(
          failing
            ? { type: 'jwks.recovered', url: url.href, keys: document.keys.length }
            : { type: 'jwks.refreshed', url: url.href, keys: document.keys.length },
        );
        failing = false;
      } catch (error) {
        lastError = error as Error;
        failing = true;
        onEvent({
          type: 'jwks.fetch_failed',
          url: url.href,
          detail: (lastError as CertboundError).detail ?? lastError.message,
          ...(current === undefined ? {} : { keysAgeSeconds: Math.round((now() - current.fetchedAt) / 1000) }),
        });
        throw error;
      } finally {
        inFlight = undefined;
      }
    })());

  const source = (async (header, token) => {
    const time = now();
    const coolingDown = time - lastAttempt < cooldownMs;
    if (current !== undefined && time - current.fetchedAt > maxStalenessMs) {
      // Too old to trust: drop them, so a key the issuer has withdrawn cannot verify forever.
      onEvent({ type: 'jwks.expired', url: url.href, keysAgeSeconds: Math.round((time - current.fetchedAt) / 1000) });
      current = undefined;
    }
    if (current === undefined) {
      if (coolingDown && inFlight === undefined && lastError !== undefined) throw lastError;
      await fetchKeys();
    } else if (time - current.fetchedAt > cacheMaxAgeMs && !coolingDown) {
      fetchKeys().catch(() => {}); // reported through onEvent; the current keys answer meanwhile
    }
    const keys = (current as unknown as { keys: JWTVerifyGetKey }).keys;
    try {
      return await keys(header, token);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || coolingDown) throw error;
      await fetchKeys(); // a failure here means "keys unavailable", not "unknown key"
      return (current as unknown as { keys: JWTVerifyGetKey }).keys(header, token);
    }
  }) as JwksSource;
  source.refresh = () => fetchKeys();
  source.status = () => {
    const fetchedAt = current?.fetchedAt;
    return { loadedAt: fetchedAt, usable: fetchedAt !== undefined && now() - fetchedAt <= maxStalenessMs };
  };
  return source;
}

/** A fetch that failed: the keys are unavailable (503), which is never the token's fault. */
function unavailable(detail: string): CertboundError {
  return new CertboundError('CB_JWKS_UNAVAILABLE', {
    description: 'the issuer signing keys are unavailable',
    detail,
    retryAfterSeconds: DEFAULTS.verification.keysUnavailableRetryAfterSeconds,
  });
}

async function fetchJwks(url: URL, dispatcher: Agent, timeoutMs: number): Promise<JSONWebKeySet> {
  let response;
  try {
    response = await undiciFetch(url, {
      dispatcher,
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json' },
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw unavailable(`${url.href}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw unavailable(`${url.href}: HTTP ${response.status}`);
  }
  let document: unknown;
  try {
    document = await response.json();
  } catch {
    throw unavailable(`${url.href}: response is not JSON`);
  }
  try {
    return checkJwksDocument(document, url.href, '');
  } catch (error) {
    throw unavailable((error as Error).message);
  }
}

/** Read and check a JWKS file. */
export async function readJwksFile(path: string): Promise<JSONWebKeySet> {
  const text = await readText(path, 'JWKS file');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new FileProblem(path, 'JWKS file is not valid JSON');
  }
  return checkJwksDocument(document, path, 'JWKS file ');
}

/** A key set that can only verify: public, asymmetric keys, at least one. */
function checkJwksDocument(document: unknown, where: string, what: string): JSONWebKeySet {
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.some((key) => key === null || typeof key !== 'object')) {
    throw new FileProblem(where, `${what}must be {"keys": [...]} with at least one key`);
  }
  if (keys.some((key) => 'd' in key)) {
    throw new FileProblem(where, `${what}contains a private key; publish public keys only`);
  }
  if (keys.some((key) => 'k' in key || key.kty === 'oct')) {
    throw new FileProblem(where, `${what}contains a symmetric key; only asymmetric keys verify access tokens`);
  }
  return document as JSONWebKeySet;
}
