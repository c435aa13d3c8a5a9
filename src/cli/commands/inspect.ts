import { decodeJwt, decodeProtectedHeader, type JWTVerifyGetKey } from 'jose';
import { CNF_X5T_S256 } from '../../core/rfc.js';
import { computeThumbprint, thumbprintsEqual } from '../../core/thumbprint.js';
import { readCertificates, readText } from '../../files/read.js';
import { isJwksUrl, loadJwksSource } from '../../keys/jwks-source.js';
import { CertboundError } from '../../core/errors.js';
import type { FlagSpec } from '../../config/option.js';
import { flagName, optionalString, parse, type Parsed } from '../args.js';
import { OperationFailed, UsageError } from '../errors.js';
import { tokenInput } from '../token-input.js';
import { checkTokenSignature, type SignatureExpectations } from '../token-signature.js';

export const usage = `certbound inspect TOKEN [--cert CERT] [--jwks FILE_OR_URL [--issuer I] [--audience A] [--jwks-ca F]]
  Decode a JWT and print its header and claims. TOKEN is the token, or - to read it from stdin:
  whatever 'certbound token' prints (the response JSON, --output token or --output header) can
  be piped in. Without --jwks the signature is NOT verified: this is for reading tokens. With
  --jwks, verify the signature against that JWKS file or https URL (--jwks-ca F: the CA bundle
  the URL is checked against), and exp and nbf, and iss and aud when --issuer and --audience are
  given; says valid or invalid and why, and exits 1 when invalid. With --cert, say whether the
  token's cnf x5t#S256 binds it to CERT; exits 1 when it does not.`;

export const flags: readonly FlagSpec[] = [
  { flag: 'cert', type: { kind: 'path' }, doc: "say whether the token's cnf x5t#S256 binds it to this certificate" },
  { flag: 'jwks', type: { kind: 'path-or-url' }, doc: "verify the signature with the issuer's keys: a JWKS file, or an https URL" },
  { flag: 'issuer', type: { kind: 'string' }, doc: 'with --jwks, also require this iss' },
  { flag: 'audience', type: { kind: 'string' }, doc: 'with --jwks, also require this aud' },
  { flag: 'jwks-ca', type: { kind: 'path' }, doc: 'CA bundle an https --jwks URL must chain to (default: the system CAs)' },
];

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('inspect', argv, flags, 1);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const argument = parsed.positionals[0];
  if (argument === undefined) throw new UsageError('inspect: TOKEN is required (or - for stdin)');
  const verification = await verificationOf(parsed);
  const token = tokenInput('inspect', argument);
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
  const verdict = verification === undefined ? undefined : await signatureVerdict(verification, token);
  if (verdict !== undefined) lines.push(verdict.line);
  const certFile = optionalString(parsed, 'cert');
  let matches = true;
  if (certFile !== undefined) {
    const { certificates } = await readCertificates(certFile, 'certificate');
    const thumbprint = computeThumbprint((certificates[0] as { raw: Buffer }).raw);
    matches = typeof bound === 'string' && thumbprintsEqual(bound, thumbprint);
    lines.push(`${certFile} x5t#S256: ${thumbprint}`, matches ? `bound to ${certFile}: yes` : `bound to ${certFile}: NO`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (verdict?.invalid !== undefined) throw new OperationFailed(`token is invalid: ${verdict.invalid}`);
  if (!matches) throw new OperationFailed(`token is not bound to ${certFile}`);
  return 0;
}

interface Verification {
  jwks: string;
  keys: JWTVerifyGetKey;
  expected: SignatureExpectations;
}

/** What --jwks, --issuer, --audience and --jwks-ca ask to verify, checked before the token is read. */
async function verificationOf(parsed: Parsed): Promise<Verification | undefined> {
  const jwks = optionalString(parsed, 'jwks');
  const issuer = optionalString(parsed, 'issuer');
  const audience = optionalString(parsed, 'audience');
  const ca = optionalString(parsed, 'jwks-ca');
  if (jwks === undefined) {
    // Only typed flags: CERTBOUND_AUDIENCE set for `certbound token` must not break `| certbound inspect -`.
    const orphans = (['issuer', 'audience', 'jwks-ca'] as const).filter(
      (flag) => optionalString(parsed, flag) !== undefined && !parsed.fromEnv.has(flag),
    );
    if (orphans.length > 0)
      throw new UsageError(
        `inspect: ${orphans.map((flag) => flagName(parsed, flag)).join(' and ')} need${orphans.length === 1 ? 's' : ''} --jwks`,
      );
    return undefined;
  }
  if (ca !== undefined && !isJwksUrl(jwks))
    throw new UsageError(`inspect: ${flagName(parsed, 'jwks-ca')} applies to an https --jwks URL only`);
  const keys = await loadJwksSource(jwks, ca === undefined ? {} : { ca: await readText(ca, 'CA bundle') });
  return { jwks, keys, expected: { ...(issuer === undefined ? {} : { issuer }), ...(audience === undefined ? {} : { audience }) } };
}

/** `verified against JWKS: valid (what was checked)`, or `...: INVALID: why` with the reason for the exit. */
async function signatureVerdict(verification: Verification, token: string): Promise<{ line: string; invalid?: string }> {
  const { jwks, keys, expected } = verification;
  const checked = [
    'signature',
    'exp',
    'nbf',
    ...(expected.issuer === undefined ? [] : ['iss']),
    ...(expected.audience === undefined ? [] : ['aud']),
  ];
  try {
    await checkTokenSignature(token, keys, expected);
    return { line: `verified against ${jwks}: valid (${checked.join(', ')})` };
  } catch (error) {
    if (!(error instanceof CertboundError)) throw error;
    return { line: `verified against ${jwks}: INVALID: ${error.description}`, invalid: error.description };
  }
}
