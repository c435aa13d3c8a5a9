import { createPrivateKey, X509Certificate } from 'node:crypto';
import { misuse } from '../core/config-error.js';
import { computeThumbprint } from '../core/thumbprint.js';
import { isEngineKey, type TlsKey } from '../core/tls-key.js';

/** A client certificate (chain), its private key and the CA bundle the servers must chain to. */
export interface ClientIdentityMaterial {
  /** PEM: the leaf first, then any intermediates. */
  cert: string | Buffer;
  /** PEM, or a key that stays in a PKCS#11 token (`openPkcs11TlsKey`). */
  key: TlsKey;
  /** CA bundle (PEM) the server certificates must chain to; system CAs when absent. */
  ca?: string | Buffer | undefined;
}

/**
 * One version of a client identity: the material and the RFC 8705 §3.1 thumbprint of its leaf.
 * Immutable: a rotation makes a new snapshot, so a connection and the token sent over it can be
 * taken from the same one and never disagree.
 */
export interface ClientIdentitySnapshot extends Readonly<ClientIdentityMaterial> {
  /** x5t#S256 of the leaf certificate: what tokens for this snapshot are bound to. */
  readonly thumbprint: string;
  /** When the leaf certificate expires. */
  readonly notAfter: Date;
  /** 1 for the first snapshot, one more for each change. */
  readonly serial: number;
}

/** What a client identity reports: a change, or new material it refused (the last good one stays). */
export type ClientIdentityEvent =
  | { type: 'identity.changed'; thumbprint: string; previousThumbprint: string | undefined; serial: number }
  | { type: 'identity.refused'; reason: string; keptThumbprint: string };

/**
 * The client's current certificate and key, which may change while the process runs (cert-manager,
 * SPIRE and Vault agents rewrite them every few hours). Token sources, bound fetch and gRPC STS
 * credentials given one follow it: each request takes one snapshot and uses its certificate for
 * the connection and a token bound to its thumbprint.
 */
export interface ClientIdentity {
  /** The snapshot in use now. */
  current(): ClientIdentitySnapshot;
  /**
   * Replace the material (e.g. from a secret store). Material equal to the current one changes
   * nothing.
   * @throws ConfigError when the certificate or key is unusable or the key is not the
   *   certificate's: the current snapshot stays.
   */
  update(material: ClientIdentityMaterial): ClientIdentitySnapshot;
  /** Call `listener` after each change; returns the function that stops that. */
  onChange(listener: (next: ClientIdentitySnapshot, previous: ClientIdentitySnapshot) => void): () => void;
  /** Stop following any files; the current snapshot stays readable. */
  close(): Promise<void>;
}

export interface ClientIdentityOptions {
  /** Told of each change and of refused material. Never given key material. */
  onEvent?: (event: ClientIdentityEvent) => void;
}

/**
 * A client identity held in memory, changed by `update()`. For files on disk that are rewritten
 * in place, use `watchClientIdentity`.
 *
 * @example
 * const identity = createClientIdentity({ ca, cert, key });
 * const tokens = createTokenSource({ stsUrl, identity, subjectTokenFile, audience });
 * vault.on('renewed', ({ cert, key }) => identity.update({ ca, cert, key }));
 * @throws ConfigError when the first material is unusable.
 */
export function createClientIdentity(material: ClientIdentityMaterial, options: ClientIdentityOptions = {}): ClientIdentity {
  let current = snapshotOf(material, 1);
  const listeners = new Set<(next: ClientIdentitySnapshot, previous: ClientIdentitySnapshot) => void>();
  return {
    current: () => current,
    update(next) {
      let snapshot: ClientIdentitySnapshot;
      try {
        if (sameMaterial(current, next)) return current;
        snapshot = snapshotOf(next, current.serial + 1);
      } catch (error) {
        options.onEvent?.({ type: 'identity.refused', reason: (error as Error).message, keptThumbprint: current.thumbprint });
        throw error;
      }
      const previous = current;
      current = snapshot;
      options.onEvent?.({
        type: 'identity.changed',
        thumbprint: snapshot.thumbprint,
        previousThumbprint: previous.thumbprint,
        serial: snapshot.serial,
      });
      for (const listener of listeners) listener(snapshot, previous);
      return snapshot;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => Promise.resolve(),
  };
}

/** Check the material (a parseable leaf, a key that is its key) and name its thumbprint. */
function snapshotOf(material: ClientIdentityMaterial, serial: number): ClientIdentitySnapshot {
  if (material === null || typeof material !== 'object') throw misuse('client identity material must be an object with cert and key');
  const { cert, key, ca } = material;
  const pem = Buffer.isBuffer(cert) ? cert.toString('utf8') : cert;
  const first = typeof pem === 'string' ? /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0] : undefined;
  if (first === undefined) throw misuse('the client certificate is not a PEM certificate');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(first);
  } catch {
    throw misuse('the client certificate cannot be parsed');
  }
  if (!isEngineKey(key)) {
    let privateKey;
    try {
      privateKey = createPrivateKey(key);
    } catch {
      throw misuse('the client key is not a readable unencrypted private key (PEM)');
    }
    // A rotation caught between writing the certificate and writing its key looks like this.
    if (!leaf.checkPrivateKey(privateKey)) throw misuse('the client private key does not match the client certificate');
  }
  return Object.freeze({
    cert,
    key,
    ca,
    thumbprint: computeThumbprint(leaf.raw),
    notAfter: new Date(leaf.validTo),
    serial,
  });
}

function sameMaterial(current: ClientIdentitySnapshot, next: ClientIdentityMaterial): boolean {
  const same = (a: unknown, b: unknown): boolean =>
    a === b ||
    ((typeof a === 'string' || Buffer.isBuffer(a)) &&
      (typeof b === 'string' || Buffer.isBuffer(b)) &&
      Buffer.from(a).equals(Buffer.from(b)));
  return same(current.cert, next.cert) && same(current.key, next.key) && same(current.ca, next.ca);
}
