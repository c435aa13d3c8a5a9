import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { publishedKeysAt, signingKeyAt } from '../../core/key-schedule.js';
import { readIndex, scheduleOf, type IndexEntry } from '../../keys/keystore-index.js';
import { addKeystoreKey, GENERATED_ALGORITHMS, KEYSTORE_DEFAULTS, KEYSTORE_INDEX } from '../../keys/keystore.js';
import { readPinFile } from '../../keys/pkcs11-token.js';
import { parsePkcs11Uri } from '../../keys/pkcs11-uri.js';
import type { FlagSpec } from '../../config/option.js';
import { flagName, optionalString, parse, requireString, type Parsed } from '../args.js';
import { UsageError } from '../errors.js';
import { didYouMean } from '../suggest.js';

export const usage = `certbound keys generate|list|rotate --dir DIR [--alg ES256|ES384|RS256|PS256|EdDSA]
               [--publish-ahead SECONDS] [--max-token-lifetime SECONDS]
               [--pkcs11 pkcs11:token=LABEL [--pkcs11-module F] [--pkcs11-pin-file F]]
  Manage an STS signing keystore (sts.yaml: signing: { keystore: DIR }). With --pkcs11 the new
  key is made inside that PKCS#11 token (ES256, RS256 or EdDSA, not extractable) and keystore.json records
  its URI; rotation destroys the token's expired keys. The STS reaches them with the module and PIN
  file of sts.yaml's pkcs11 section (or PKCS11_MODULE_PATH, CERTBOUND_PKCS11_PIN).
  generate  add a key; into an empty keystore it signs at once.
  rotate    add the next key: published in the JWKS now, signing after --publish-ahead (default
            ${KEYSTORE_DEFAULTS.publishAheadSeconds} s, longer than resource servers cache the JWKS); the current key stops signing
            then and stays published --max-token-lifetime (default ${KEYSTORE_DEFAULTS.maxTokenLifetimeSeconds} s) + 60 s more, until
            every token it signed has expired. Expired keys are deleted.
  list      show each key's schedule.
  A running STS picks changes up within 5 s, or at once on SIGHUP.`;

export const flags: readonly FlagSpec[] = [
  { flag: 'dir', type: { kind: 'path' }, doc: 'the keystore directory (keystore.json and the key files)' },
  { flag: 'alg', type: { kind: 'enum', values: GENERATED_ALGORITHMS }, doc: 'the algorithm of a new key (default: ES256)' },
  {
    flag: 'publish-ahead',
    type: { kind: 'integer', min: 0, max: 999_999 },
    doc: `seconds a rotated-in key is published before it signs (${KEYSTORE_DEFAULTS.publishAheadSeconds})`,
  },
  {
    flag: 'max-token-lifetime',
    type: { kind: 'integer', min: 1, max: 999_999 },
    doc: `seconds a retired key stays published, plus 60 (${KEYSTORE_DEFAULTS.maxTokenLifetimeSeconds})`,
  },
  { flag: 'pkcs11', type: { kind: 'string' }, doc: 'pkcs11:token=LABEL: make the key inside that PKCS#11 token' },
  { flag: 'pkcs11-module', type: { kind: 'path' }, doc: 'the PKCS#11 module of that token (default: PKCS11_MODULE_PATH)' },
  { flag: 'pkcs11-pin-file', type: { kind: 'path' }, doc: "a file holding the token's user PIN (default: CERTBOUND_PKCS11_PIN)" },
];

const ACTIONS = ['generate', 'list', 'rotate'] as const;

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('keys', argv, flags, 1);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const action = parsed.positionals[0];
  if (action !== 'generate' && action !== 'list' && action !== 'rotate')
    throw new UsageError(`keys: expected generate, list or rotate${action === undefined ? '' : didYouMean(action, ACTIONS)}`);
  const dir = resolve(requireString(`keys ${action}`, parsed, 'dir'));
  const now = Math.floor(Date.now() / 1000);
  if (action === 'list') return list(dir, now);
  const alg = optionalString(parsed, 'alg') ?? 'ES256';
  if (!(GENERATED_ALGORITHMS as readonly string[]).includes(alg))
    throw new UsageError(`keys ${action}: ${flagName(parsed, 'alg')} must be one of ${GENERATED_ALGORITHMS.join(', ')}`);
  const existing = scheduleOf(await readIndex(dir));
  if (action === 'generate' && signingKeyAt(existing, now) !== undefined)
    throw new UsageError(`keys generate: ${dir} already has an active key; use keys rotate`);
  if (action === 'rotate' && existing.length === 0) throw new UsageError(`keys rotate: ${dir} has no keys yet; use keys generate`);
  const pkcs11 = await tokenOf(`keys ${action}`, parsed);
  const added = await addKeystoreKey(dir, {
    alg: alg as (typeof GENERATED_ALGORITHMS)[number],
    now,
    ...(pkcs11 === undefined ? {} : { pkcs11 }),
    ...seconds(parsed, 'publish-ahead', 'publishAheadSeconds'),
    ...seconds(parsed, 'max-token-lifetime', 'maxTokenLifetimeSeconds'),
  });
  const when = added.activateAt <= now ? 'signing now' : `published now, signing from ${iso(added.activateAt)}`;
  const where = pkcs11 === undefined ? '' : `, in PKCS#11 token "${pkcs11.token}"`;
  process.stdout.write(`${action === 'generate' ? 'generated' : 'rotated to'} ${added.alg} key ${added.kid} (${when}${where})\n`);
  return 0;
}

/** --pkcs11 pkcs11:token=LABEL with its module and PIN file, when the key goes into a token. */
async function tokenOf(command: string, parsed: Parsed): Promise<{ token: string; module?: string; pin?: string } | undefined> {
  const uri = optionalString(parsed, 'pkcs11');
  const module = optionalString(parsed, 'pkcs11-module');
  const pinFile = optionalString(parsed, 'pkcs11-pin-file');
  if (uri === undefined) {
    if (module !== undefined || pinFile !== undefined)
      throw new UsageError(`${command}: --pkcs11-module and --pkcs11-pin-file go with --pkcs11 pkcs11:token=LABEL`);
    return undefined;
  }
  const token = parsePkcs11Uri(uri, { keyOptional: true }).token;
  if (token === undefined) throw new UsageError(`${command}: ${flagName(parsed, 'pkcs11')} must name the token: pkcs11:token=LABEL`);
  return {
    token,
    ...(module === undefined ? {} : { module }),
    ...(pinFile === undefined ? {} : { pin: await readPinFile(pinFile) }),
  };
}

/** The schedule from keystore.json alone: listing opens no key, so it needs no PIN. */
async function list(dir: string, now: number): Promise<number> {
  await requireDirectory('keys list', dir);
  const entries = await readIndex(dir);
  // An empty table would read as "no keys, all is well" where a path is most likely mistyped.
  if (entries.length === 0)
    throw new UsageError(`keys list: no keys in ${join(dir, KEYSTORE_INDEX)} (keys generate --dir ${dir} makes the first)`);
  const keys = scheduleOf(entries).map((key, index) => ({
    ...key,
    alg: (entries[index] as IndexEntry).alg,
    inToken: entries[index]?.pkcs11 !== undefined,
  }));
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
      `${key.kid.padEnd(44)} ${key.alg.padEnd(6)} ${(state + (key.inToken ? '*' : '')).padEnd(10)} ${iso(key.publishAt)} ${iso(key.activateAt)} ${key.retireAt === undefined ? '-'.padEnd(20) : iso(key.retireAt)} ${key.expireAt === undefined ? '-' : iso(key.expireAt)}\n`,
    );
  }
  if (keys.some((key) => key.inToken)) process.stdout.write('* in a PKCS#11 token\n');
  return 0;
}

async function requireDirectory(command: string, dir: string): Promise<void> {
  const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`${command}: ${dir}: ${error.code === 'ENOENT' ? 'no such directory' : `cannot read (${error.code ?? 'error'})`}`);
  });
  if (!info.isDirectory()) throw new UsageError(`${command}: ${dir}: not a directory`);
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function seconds(parsed: Parsed, flag: string, name: 'publishAheadSeconds' | 'maxTokenLifetimeSeconds'): Record<string, number> {
  const raw = optionalString(parsed, flag);
  if (raw === undefined) return {};
  if (!/^\d{1,6}$/.test(raw) || (name === 'maxTokenLifetimeSeconds' && Number(raw) < 1))
    throw new UsageError(`keys: ${flagName(parsed, flag)} must be a number of seconds`);
  return { [name]: Number(raw) };
}
