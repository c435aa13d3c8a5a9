import { createLocalJWKSet, createRemoteJWKSet, customFetch, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { readText } from './files.js';

export interface JwksSourceOptions {
  /** CA bundle (PEM) that the JWKS URL's server certificate must chain to; system CAs when absent. */
  ca?: string | Buffer;
  /** TLS server name to verify, when it differs from the URL's host. */
  servername?: string;
  /** How long fetched keys are trusted before a refresh, in ms (jose default 10 min). */
  cacheMaxAgeMs?: number;
  /** Least time between two fetches caused by unknown kids, in ms (jose default 30 s). */
  cooldownMs?: number;
}

/**
 * Where verification keys come from: a JWKS file, read once, or an https URL, fetched and cached
 * by jose (re-fetched, rate-limited, when a token names an unknown kid).
 * @throws Error naming the file or URL when it cannot be used.
 */
export async function loadJwksSource(location: string, options: JwksSourceOptions = {}): Promise<JWTVerifyGetKey> {
  if (/^https:\/\//i.test(location)) return remoteJwksSource(location, options);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new Error(`${location}: JWKS URLs must use https`);
  }
  return createLocalJWKSet(await readJwksFile(location));
}

/** An https JWKS URL as a jose key resolver (fetched lazily, cached, re-fetched on unknown kid). */
export function remoteJwksSource(location: string, options: JwksSourceOptions = {}): JWTVerifyGetKey {
  const dispatcher = new Agent({
    connect: { ...(options.ca === undefined ? {} : { ca: options.ca }), ...(options.servername === undefined ? {} : { servername: options.servername }) },
  });
  return createRemoteJWKSet(new URL(location), {
    ...(options.cacheMaxAgeMs === undefined ? {} : { cacheMaxAge: options.cacheMaxAgeMs }),
    ...(options.cooldownMs === undefined ? {} : { cooldownDuration: options.cooldownMs }),
    [customFetch]: (url, init) =>
      undiciFetch(url, { method: init.method, redirect: init.redirect, signal: init.signal, headers: Object.fromEntries(init.headers), dispatcher }) as unknown as Promise<Response>,
  });
}

/** Read and check a JWKS file. */
export async function readJwksFile(path: string): Promise<JSONWebKeySet> {
  const text = await readText(path, 'JWKS file');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new Error(`${path}: JWKS file is not valid JSON`);
  }
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.some((key) => key === null || typeof key !== 'object')) {
    throw new Error(`${path}: JWKS file must be {"keys": [...]} with at least one key`);
  }
  if (keys.some((key) => 'd' in key)) {
    throw new Error(`${path}: JWKS file contains a private key; publish public keys only`);
  }
  if (keys.some((key) => 'k' in key || key.kty === 'oct')) {
    throw new Error(`${path}: JWKS file contains a symmetric key; only asymmetric keys verify access tokens`);
  }
  return document as JSONWebKeySet;
}
