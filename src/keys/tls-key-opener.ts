import type { KeyOpener, TlsPaths } from '../files/tls-files.js';
import { readPinFile } from './pkcs11-token.js';
import { readCertificateFromToken } from './pkcs11-certificate.js';
import { openPkcs11TlsKey } from './pkcs11-tls-key.js';

/** Where keys in tokens are found: --pkcs11-module and --pkcs11-pin-file (else the environment). */
export interface Pkcs11Settings {
  module?: string | undefined;
  pinFile?: string | undefined;
}

/** Opens the `pkcs11:` TLS keys of a command's settings (files stay files). */
export function pkcs11KeyOpener(settings: Pkcs11Settings): KeyOpener {
  return async (uri) => {
    const pin = settings.pinFile === undefined ? undefined : await readPinFile(settings.pinFile);
    const key = await openPkcs11TlsKey({
      uri,
      ...(settings.module === undefined ? {} : { module: settings.module }),
      ...(pin === undefined ? {} : { pin, pinOrigin: `the PIN file ${settings.pinFile ?? ''}` }),
    });
    return { key, publicKey: key.publicKey };
  };
}

/** Reads the `pkcs11:` certificates of a command's settings (`--tls-cert pkcs11:...;type=cert`). */
export function pkcs11CertificateReader(settings: Pkcs11Settings): (uri: string) => Promise<string> {
  return async (uri) => {
    const pin = settings.pinFile === undefined ? undefined : await readPinFile(settings.pinFile);
    return readCertificateFromToken({
      uri,
      ...(settings.module === undefined ? {} : { module: settings.module }),
      ...(pin === undefined ? {} : { pin, pinOrigin: `the PIN file ${settings.pinFile ?? ''}` }),
    });
  };
}

/** Both, as TlsPaths takes them: keys and certificates given as `pkcs11:` URIs are read from the token. */
export function tokenObjectReaders(settings: Pkcs11Settings): Required<Pick<TlsPaths, 'openKey' | 'readCertificate'>> {
  return { openKey: pkcs11KeyOpener(settings), readCertificate: pkcs11CertificateReader(settings) };
}
