import { readFileSync } from 'node:fs';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { CNF_X5T_S256 } from '../../core/rfc.js';
import { computeThumbprint, thumbprintsEqual } from '../../core/thumbprint.js';
import { readCertificates } from '../../files/read.js';
import type { FlagSpec } from '../../config/option.js';
import { optionalString, parse } from '../args.js';
import { OperationFailed, UsageError } from '../errors.js';

export const usage = `certbound inspect TOKEN [--cert CERT]
  Decode a JWT (TOKEN, or - to read it from stdin) and print its header and claims. The signature
  is NOT verified: this is for reading tokens. With --cert, say whether the token's cnf x5t#S256
  binds it to CERT; exits 1 when it does not.`;

export const flags: readonly FlagSpec[] = [
  { flag: 'cert', type: { kind: 'path' }, doc: "say whether the token's cnf x5t#S256 binds it to this certificate" },
];

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('inspect', argv, flags, 1);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  let token = parsed.positionals[0];
  if (token === undefined) throw new UsageError('inspect: TOKEN is required (or - for stdin)');
  if (token === '-') token = readFileSync(0, 'utf8');
  token = token.trim();
  let header;
  let claims;
  try {
    header = decodeProtectedHeader(token);
    claims = decodeJwt(token);
  } catch {
    throw new UsageError('inspect: TOKEN is not a JWT (three base64url parts with a JSON header and payload)');
  }
  const lines = [`header: ${JSON.stringify(header, null, 2)}`, `claims: ${JSON.stringify(claims, null, 2)}`];
  for (const claim of ['iat', 'nbf', 'exp'] as const) {
    const value = claims[claim];
    if (typeof value === 'number') lines.push(`${claim}: ${new Date(value * 1000).toISOString()}`);
  }
  const cnf = claims.cnf as Record<string, unknown> | undefined;
  const bound = cnf !== null && typeof cnf === 'object' ? cnf[CNF_X5T_S256] : undefined;
  lines.push(typeof bound === 'string' ? `bound to certificate x5t#S256: ${bound}` : 'not certificate-bound (no cnf x5t#S256)');
  const certFile = optionalString(parsed, 'cert');
  let matches = true;
  if (certFile !== undefined) {
    const { certificates } = await readCertificates(certFile, 'certificate');
    const thumbprint = computeThumbprint((certificates[0] as { raw: Buffer }).raw);
    matches = typeof bound === 'string' && thumbprintsEqual(bound, thumbprint);
    lines.push(`${certFile} x5t#S256: ${thumbprint}`, matches ? `bound to ${certFile}: yes` : `bound to ${certFile}: NO`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (!matches) throw new OperationFailed(`token is not bound to ${certFile}`);
  return 0;
}
