import { resolve } from 'node:path';
import { publishedKeysAt, signingKeyAt } from '../../core/key-schedule.js';
import { addKeystoreKey, GENERATED_ALGORITHMS, KEYSTORE_DEFAULTS, readKeystore } from '../../keys/keystore.js';
import { optionalString, parse, requireString, type Parsed } from '../args.js';
import { UsageError } from '../errors.js';

export const usage = `certbound keys generate|list|rotate --dir DIR [--alg ES256|ES384|RS256|PS256|EdDSA]
               [--publish-ahead SECONDS] [--max-token-lifetime SECONDS]
  Manage an STS signing keystore (sts.yaml: signing: { keystore: DIR }).
  generate  add a key; into an empty keystore it signs at once.
  rotate    add the next key: published in the JWKS now, signing after --publish-ahead (default
            ${KEYSTORE_DEFAULTS.publishAheadSeconds} s, longer than resource servers cache the JWKS); the current key stops signing
            then and stays published --max-token-lifetime (default ${KEYSTORE_DEFAULTS.maxTokenLifetimeSeconds} s) + 60 s more, until
            every token it signed has expired. Expired keys are deleted.
  list      show each key's schedule.
  A running STS picks changes up within 5 s, or at once on SIGHUP.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parse(
    'keys',
    argv,
    {
      dir: { type: 'string' },
      alg: { type: 'string' },
      'publish-ahead': { type: 'string' },
      'max-token-lifetime': { type: 'string' },
    },
    1,
  );
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const action = parsed.positionals[0];
  if (action !== 'generate' && action !== 'list' && action !== 'rotate') throw new UsageError('keys: expected generate, list or rotate');
  const dir = resolve(requireString(`keys ${action}`, parsed, 'dir'));
  const now = Math.floor(Date.now() / 1000);
  if (action === 'list') return list(dir, now);
  const alg = optionalString(parsed, 'alg') ?? 'ES256';
  if (!(GENERATED_ALGORITHMS as readonly string[]).includes(alg))
    throw new UsageError(`keys ${action}: --alg must be one of ${GENERATED_ALGORITHMS.join(', ')}`);
  const existing = await readKeystore(dir);
  if (action === 'generate' && signingKeyAt(existing, now) !== undefined)
    throw new UsageError(`keys generate: ${dir} already has an active key; use keys rotate`);
  if (action === 'rotate' && existing.length === 0) throw new UsageError(`keys rotate: ${dir} has no keys yet; use keys generate`);
  const added = await addKeystoreKey(dir, {
    alg: alg as (typeof GENERATED_ALGORITHMS)[number],
    now,
    ...seconds(parsed, 'publish-ahead', 'publishAheadSeconds'),
    ...seconds(parsed, 'max-token-lifetime', 'maxTokenLifetimeSeconds'),
  });
  const when = added.activateAt <= now ? 'signing now' : `published now, signing from ${iso(added.activateAt)}`;
  process.stdout.write(`${action === 'generate' ? 'generated' : 'rotated to'} ${added.alg} key ${added.kid} (${when})\n`);
  return 0;
}

async function list(dir: string, now: number): Promise<number> {
  const keys = await readKeystore(dir);
  const signer = signingKeyAt(keys, now);
  const published = new Set(publishedKeysAt(keys, now));
  process.stdout.write(
    'kid                                          alg    state      publish              activate             retire               expire\n',
  );
  for (const key of keys) {
    const state =
      key === signer
        ? 'signing'
        : !published.has(key)
          ? key.publishAt > now
            ? 'scheduled'
            : 'expired'
          : key.activateAt > now
            ? 'next'
            : 'retired';
    process.stdout.write(
      `${key.kid.padEnd(44)} ${key.signingKey.alg.padEnd(6)} ${state.padEnd(10)} ${iso(key.publishAt)} ${iso(key.activateAt)} ${key.retireAt === undefined ? '-'.padEnd(20) : iso(key.retireAt)} ${key.expireAt === undefined ? '-' : iso(key.expireAt)}\n`,
    );
  }
  return 0;
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function seconds(parsed: Parsed, flag: string, name: 'publishAheadSeconds' | 'maxTokenLifetimeSeconds'): Record<string, number> {
  const raw = optionalString(parsed, flag);
  if (raw === undefined) return {};
  if (!/^\d{1,6}$/.test(raw) || (name === 'maxTokenLifetimeSeconds' && Number(raw) < 1))
    throw new UsageError(`keys: --${flag} must be a number of seconds`);
  return { [name]: Number(raw) };
}
