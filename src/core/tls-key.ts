/**
 * A TLS private key that never enters this process: OpenSSL reaches it through an engine (the
 * pkcs11 engine for keys in an HSM, a YubiKey or a TPM). Made by `openPkcs11TlsKey`.
 */
export interface EngineKey {
  readonly engine: 'pkcs11';
  /** The key's URI as OpenSSL is given it: never a PIN in it. */
  readonly identifier: string;
  /**
   * Called each time a secure context is built (start, reload, each client context): makes sure
   * the token is there and logged in, so OpenSSL finds the key without asking for a PIN.
   * @throws Error saying what is wrong with the token.
   */
  prepare(): void;
}

/** A TLS private key: PEM text, or a key held in a token (`openPkcs11TlsKey`). */
export type TlsKey = string | Buffer | EngineKey;

export function isEngineKey(key: unknown): key is EngineKey {
  return typeof key === 'object' && key !== null && !Buffer.isBuffer(key) && (key as Partial<EngineKey>).engine === 'pkcs11';
}

/** The secure-context options that present `key`: `key` for PEM, the engine and identifier for a token's key. */
export function keyContextOptions(key: TlsKey): { key: string | Buffer } | { privateKeyEngine: string; privateKeyIdentifier: string } {
  if (!isEngineKey(key)) return { key };
  key.prepare();
  return { privateKeyEngine: key.engine, privateKeyIdentifier: key.identifier };
}

/** Whether a key setting names a key in a PKCS#11 token (RFC 7512 URI) rather than a file. */
export const isPkcs11Uri = (value: string): boolean => value.toLowerCase().startsWith('pkcs11:');
