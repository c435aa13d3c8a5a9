import { computeThumbprint } from '../../core/thumbprint.js';
import { readCertificates } from '../../files/read.js';
import { parse } from '../args.js';
import { UsageError } from '../errors.js';

export const usage = `certbound thumbprint CERT
  Print the RFC 8705 x5t#S256 of the (first) certificate in a PEM file: base64url SHA-256 of its DER.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('thumbprint', argv, [], 1);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const file = parsed.positionals[0];
  if (file === undefined) throw new UsageError('thumbprint: CERT file is required');
  const { certificates } = await readCertificates(file, 'certificate');
  process.stdout.write(`${computeThumbprint((certificates[0] as { raw: Buffer }).raw)}\n`);
  return 0;
}
