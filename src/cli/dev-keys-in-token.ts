import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateKeyInToken } from '../keys/pkcs11-keygen.js';
import { readPinFile } from '../keys/pkcs11-token.js';
import { parsePkcs11Uri } from '../keys/pkcs11-uri.js';
import type { DevKeysInToken } from '../pki/dev-pki.js';
import { UsageError } from './errors.js';

/** The labels of the dev keys certbound makes in a token. */
export const DEV_KEY_LABELS = { alice: 'certbound-alice', bob: 'certbound-bob', jwt: 'certbound-jwt' } as const;

export interface TokenPlace {
  /** `pkcs11:token=LABEL` */
  tokenUri: string;
  module?: string | undefined;
  pinFile?: string | undefined;
}

/** Make alice's and bob's client keys (EC P-256) and the STS signing key (ES256) in the token. */
export async function makeDevKeysInToken(
  command: string,
  place: TokenPlace,
): Promise<DevKeysInToken & { uris: Record<keyof typeof DEV_KEY_LABELS, string> }> {
  const reference = parsePkcs11Uri(place.tokenUri, { keyOptional: true });
  if (reference.token === undefined) throw new UsageError(`${command}: --pkcs11 must name the token: pkcs11:token=LABEL`);
  const pin = place.pinFile === undefined ? undefined : await readPinFile(place.pinFile);
  const where = {
    token: reference.token,
    ...(place.module === undefined ? {} : { module: place.module }),
    ...(pin === undefined ? {} : { pin, pinOrigin: `the PIN file ${place.pinFile ?? ''}` }),
  };
  // One after the other: a token holds one session's writes at a time on some modules.
  const alice = await generateKeyInToken({ ...where, label: DEV_KEY_LABELS.alice, kind: 'ec' });
  const bob = await generateKeyInToken({ ...where, label: DEV_KEY_LABELS.bob, kind: 'ec' });
  const jwt = await generateKeyInToken({ ...where, label: DEV_KEY_LABELS.jwt, kind: 'ec' });
  return {
    alice: alice.publicKey,
    bob: bob.publicKey,
    jwt: jwt.publicKey,
    jwtUri: jwt.uri,
    module: place.module,
    pinFile: place.pinFile,
    uris: { alice: alice.uri, bob: bob.uri, jwt: jwt.uri },
  };
}

export const SOFTHSM_MODULE_PATHS = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib64/softhsm/libsofthsm.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

/**
 * A fresh SoftHSM2 token of its own in `dir` (its config, token folder and a random PIN in a 0600
 * file), for `demo --pkcs11`. SOFTHSM2_CONF is set for this process and the servers it starts.
 */
export async function createDemoSoftHsmToken(dir: string, module: string): Promise<TokenPlace & { label: string }> {
  await mkdir(join(dir, 'tokens'), { recursive: true, mode: 0o700 });
  const config = join(dir, 'softhsm2.conf');
  await writeFile(config, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = config;
  const pin = String(randomInt(10_000_000, 100_000_000));
  const pinFile = join(dir, 'user.pin');
  await writeFile(pinFile, `${pin}\n`, { mode: 0o600 });
  const label = 'certbound-demo';
  try {
    await promisify(execFile)(
      'softhsm2-util',
      ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', String(randomInt(1e7, 1e8))],
      {
        env: process.env,
      },
    );
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new UsageError(
      `demo --pkcs11: ${missing ? 'softhsm2-util is not installed (apt-get install softhsm2)' : `softhsm2-util failed: ${(error as Error).message}`}`,
    );
  }
  return { tokenUri: `pkcs11:token=${label}`, module, pinFile, label };
}
