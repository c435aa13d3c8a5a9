import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { misuse } from '../core/config-error.js';

/** Where distributions put OpenSSL 3's engines (Debian's multiarch folders first). */
const ENGINE_FOLDERS = [
  `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/engines-3`,
  '/usr/lib64/engines-3',
  '/usr/lib/engines-3',
  '/usr/local/lib/engines-3',
  '/opt/homebrew/lib/engines-3',
];
const ENGINE_FILE = 'pkcs11.so';

/** The module OpenSSL's pkcs11 engine was pointed at: it loads one, once, for the life of the process. */
let engineModule: string | undefined;

/**
 * Point OpenSSL's pkcs11 engine (libp11) at its folder and at `modulePath`, through the
 * environment it reads when it first loads: Node's own engines folder is a build path that does
 * not exist on the machine, and without PKCS11_MODULE_PATH p11-kit would load every registered
 * module. Called before each secure context with a key in a token is built.
 * @throws ConfigError saying what to install or set.
 */
export function prepareEngine(modulePath: string, env: NodeJS.ProcessEnv = process.env): void {
  if (engineModule !== undefined && engineModule !== modulePath) {
    throw misuse(`OpenSSL's pkcs11 engine serves one PKCS#11 module per process and uses ${engineModule}: keep every TLS key in it`);
  }
  const given = env.OPENSSL_ENGINES;
  if (given !== undefined && given !== '') {
    if (!existsSync(join(given, ENGINE_FILE)))
      throw misuse(`OPENSSL_ENGINES=${given} has no ${ENGINE_FILE}: point it at the folder of OpenSSL 3's pkcs11 engine`);
  } else {
    const folder = ENGINE_FOLDERS.find((candidate) => existsSync(join(candidate, ENGINE_FILE)));
    if (folder === undefined) {
      throw misuse(
        "TLS keys in a PKCS#11 token need OpenSSL's pkcs11 engine: install libengine-pkcs11-openssl (Debian, Ubuntu) or openssl-pkcs11 (Fedora), or set OPENSSL_ENGINES to the folder holding pkcs11.so",
      );
    }
    env.OPENSSL_ENGINES = folder;
  }
  env.PKCS11_MODULE_PATH = modulePath;
  engineModule = modulePath;
}
