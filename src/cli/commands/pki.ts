import { resolve } from 'node:path';
import { planDevPki } from '../../pki/dev-pki.js';
import { writePlannedFiles } from '../../pki/write.js';
import { parse, requireString } from '../args.js';
import { UsageError } from '../errors.js';

export const usage = `certbound pki init --out DIR [--force]
  Write a development PKI to DIR: a CA; sts, server and grpc server certificates (SANs
  sts.domain.com / server.domain.com / grpc.domain.com, localhost, 127.0.0.1, ::1); alice and bob
  client certificates; an ES256 JWT signing key, its jwks.json, and an sts.yaml with the seed's
  dev policy. Keys are written with mode 0600. If any of the files exists, nothing is written
  unless --force.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('pki', argv, { out: { type: 'string' }, force: { type: 'boolean' } }, 1);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (parsed.positionals[0] !== 'init') throw new UsageError('pki: expected "pki init --out DIR"');
  const out = resolve(requireString('pki init', parsed, 'out'));
  const pki = await planDevPki();
  const written = await writePlannedFiles(out, pki.files, { force: parsed.values.force === true });
  process.stdout.write(`wrote ${written.length} files to ${out}\nCA SHA-256 fingerprint: ${pki.caFingerprint}\nJWT key id: ${pki.kid}\n`);
  return 0;
}
