import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { misuse } from '../core/config-error.js';
import { planRotation, signingKeyAt, type ScheduledKey } from '../core/key-schedule.js';
import type { AsymmetricAlgorithm } from '../core/rfc.js';
import { createSigningKey } from '../core/signing/signer.js';
import { DEFAULTS } from '../defaults.js';

const KEYSTORE_DEFAULTS = DEFAULTS.keystore;
import { destroyKeyInToken, generateKeyInToken } from './pkcs11-keygen.js';
import { readIndex, scheduleOf, writeIndex } from './keystore-index.js';

/** Algorithms `certbound keys generate` can make keys for (in a token: ES256, RS256, EdDSA where the module has it). */
export const GENERATED_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] as const;
export const TOKEN_ALGORITHMS = ['ES256', 'RS256', 'EdDSA'] as const;

function generatePrivateKeyPem(alg: (typeof GENERATED_ALGORITHMS)[number]): string {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'ES384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : alg === 'EdDSA'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export interface KeyChangeOptions {
  alg?: (typeof GENERATED_ALGORITHMS)[number];
  /**
   * Make the key inside this PKCS#11 token (ES256, RS256 or EdDSA) instead of a `<kid>.key` file; the
   * index records its URI. Rotation destroys the token's expired keys as it deletes files.
   */
  pkcs11?: { token: string; module?: string; pin?: string };
  /** Seconds since the epoch. */
  now: number;
  publishAheadSeconds?: number;
  maxTokenLifetimeSeconds?: number;
}

/**
 * Add a key. Into an empty keystore it is active at once (`generate`); otherwise it is a
 * rotation: published now, signing after `publishAheadSeconds`, the current key retired then and
 * kept published until its tokens have expired. Expired keys are removed, files included.
 * @returns the new key's schedule entry.
 */
export async function addKeystoreKey(dir: string, options: KeyChangeOptions): Promise<ScheduledKey & { alg: AsymmetricAlgorithm }> {
  const alg = options.alg ?? 'ES256';
  if (!(GENERATED_ALGORITHMS as readonly string[]).includes(alg)) throw misuse(`alg must be one of ${GENERATED_ALGORITHMS.join(', ')}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = await readIndex(dir);
  const about = new Map(existing.map((entry) => [entry.kid, { alg: entry.alg, pkcs11: entry.pkcs11 }]));
  const made = options.pkcs11 === undefined ? await inFile(alg) : await inToken(alg, options.pkcs11);
  const schedule: ScheduledKey[] = scheduleOf(existing);
  let next: ScheduledKey[];
  let removed: ScheduledKey[] = [];
  if (signingKeyAt(schedule, options.now) === undefined && schedule.every((key) => key.activateAt <= options.now)) {
    next = [...schedule, { kid: made.kid, publishAt: options.now, activateAt: options.now }];
  } else {
    const plan = planRotation(schedule, made.kid, options.now, {
      publishAheadSeconds: options.publishAheadSeconds ?? KEYSTORE_DEFAULTS.publishAheadSeconds,
      maxTokenLifetimeSeconds: options.maxTokenLifetimeSeconds ?? KEYSTORE_DEFAULTS.maxTokenLifetimeSeconds,
    });
    next = plan.keys;
    removed = plan.removed;
  }
  about.set(made.kid, { alg, pkcs11: made.pkcs11 });
  if (made.pem !== undefined) await writeFile(join(dir, `${made.kid}.key`), made.pem, { mode: 0o600 });
  await writeIndex(dir, next, about);
  for (const key of removed) {
    const uri = about.get(key.kid)?.pkcs11;
    if (uri === undefined) await rm(join(dir, `${key.kid}.key`), { force: true });
    else await destroyKeyInToken({ ...tokenAccess(options.pkcs11), uri });
  }
  return { ...(next.find((key) => key.kid === made.kid) as ScheduledKey), alg };
}

async function inFile(alg: (typeof GENERATED_ALGORITHMS)[number]): Promise<{ kid: string; pem: string; pkcs11?: undefined }> {
  const pem = generatePrivateKeyPem(alg);
  return { kid: (await createSigningKey({ privateKey: pem, alg })).kid, pem };
}

async function inToken(
  alg: (typeof GENERATED_ALGORITHMS)[number],
  where: NonNullable<KeyChangeOptions['pkcs11']>,
): Promise<{ kid: string; pem?: undefined; pkcs11: string }> {
  if (!(TOKEN_ALGORITHMS as readonly string[]).includes(alg)) throw misuse(`keys in a PKCS#11 token are ${TOKEN_ALGORITHMS.join(', ')}`);
  const made = await generateKeyInToken({
    ...tokenAccess(where),
    token: where.token,
    label: `certbound-sts-${randomBytes(6).toString('hex')}`,
    kind: ({ ES256: 'ec', RS256: 'rsa', EdDSA: 'ed25519' } as const)[alg as (typeof TOKEN_ALGORITHMS)[number]],
  });
  return { kid: await calculateJwkThumbprint(await exportJWK(made.publicKey)), pkcs11: made.uri };
}

const tokenAccess = (where: KeyChangeOptions['pkcs11']) => ({
  ...(where?.module === undefined ? {} : { module: where.module }),
  ...(where?.pin === undefined ? {} : { pin: where.pin }),
});
