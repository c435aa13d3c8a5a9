import type { KeyObject } from 'node:crypto';
import type { EngineKey } from '../core/tls-key.js';
import { prepareEngine } from './pkcs11-engine.js';
import { keepModuleLoaded } from './pkcs11-module.js';
import { openTokenKey, type Pkcs11KeyOptions } from './pkcs11-token.js';
import type { Pkcs11KeyReference } from './pkcs11-uri.js';

/** A TLS private key in a PKCS#11 token, for `tls.key` of certbound's servers and clients. */
export interface Pkcs11TlsKey extends EngineKey {
  /** The key's public half, read from the token: the certificate must carry it. */
  readonly publicKey: KeyObject;
}

/** One open key per module and URI: a SIGHUP reload finds the one already logged in. */
const opened = new Map<string, Promise<Pkcs11TlsKey>>();

/**
 * Open a TLS key held in a PKCS#11 token. certbound logs in itself (a wrong PIN, a missing token
 * or key is a clear error here) and hands OpenSSL's pkcs11 engine only the key's URI: the engine
 * finds the token logged in and needs no PIN, so none can reach the lines it prints when a login
 * fails. The engine's environment (OPENSSL_ENGINES, PKCS11_MODULE_PATH) is set up here.
 * @throws ConfigError or FileProblem naming what is wrong.
 */
export function openPkcs11TlsKey(options: Pkcs11KeyOptions): Promise<Pkcs11TlsKey> {
  const cacheKey = `${options.module ?? ''}\n${options.uri}`;
  let key = opened.get(cacheKey);
  if (key === undefined) {
    key = open(options);
    opened.set(cacheKey, key);
    key.catch(() => opened.delete(cacheKey));
  }
  return key;
}

async function open(options: Pkcs11KeyOptions): Promise<Pkcs11TlsKey> {
  const token = await openTokenKey(options);
  try {
    prepareEngine(token.modulePath);
  } catch (error) {
    token.close();
    throw error;
  }
  keepModuleLoaded(token.modulePath);
  return {
    engine: 'pkcs11',
    identifier: engineUri(token.reference),
    publicKey: token.publicKey.key,
    prepare() {
      prepareEngine(token.modulePath);
      token.ensureLoggedIn();
    },
  };
}

/** The URI OpenSSL is given: which token and key, no PIN and no module (the environment names it). */
function engineUri(reference: Pkcs11KeyReference): string {
  const parts = [
    ...(reference.token === undefined ? [] : [`token=${encodeURIComponent(reference.token)}`]),
    ...(reference.object === undefined ? [] : [`object=${encodeURIComponent(reference.object)}`]),
    ...(reference.id === undefined ? [] : [`id=${[...reference.id].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('')}`]),
    'type=private',
  ];
  return `pkcs11:${parts.join(';')}`;
}
