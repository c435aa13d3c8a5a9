import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { X509Certificate } from 'node:crypto';
import { readCertificates, readPrivateKey } from '../../files/read.js';
import { DEV_PKI_FILES, planDevPki } from '../../pki/dev-pki.js';
import { createCrl, loadCertificateAuthority, revokedSerials } from '../../pki/generate.js';
import { writeGitIgnore, writePlannedFiles, type GitIgnoreOutcome } from '../../pki/write.js';
import type { FlagSpec } from '../../config/option.js';
import { optionalString, parse, requireString, stringList } from '../args.js';
import { makeDevKeysInToken } from '../dev-keys-in-token.js';
import { UsageError } from '../errors.js';
import { issue, issueUsage } from './pki-issue.js';

export const usage = `certbound pki init --out DIR [--force] [--pkcs11 pkcs11:token=LABEL [--pkcs11-module F] [--pkcs11-pin-file F]]
  Write a development PKI to DIR: a CA; sts, server and grpc server certificates (SANs
  sts.domain.com / server.domain.com / grpc.domain.com, localhost, 127.0.0.1, ::1); alice and bob
  client certificates; an ES256 JWT signing key, its jwks.json, and an sts.yaml with the seed's
  dev policy. Keys are written with mode 0600. If any of the files exists, nothing is written
  unless --force. With --pkcs11, alice's, bob's and the JWT signing key are made inside that
  PKCS#11 token instead (labels certbound-alice, certbound-bob, certbound-jwt; not extractable):
  no key file is written for them, sts.yaml names the signing key by URI. The module comes from
  --pkcs11-module (default PKCS11_MODULE_PATH), the PIN from --pkcs11-pin-file (default
  CERTBOUND_PKCS11_PIN). DIR also gets a .gitignore holding "*", so git ignores the folder and its
  keys, unless DIR has a .gitignore already or holds other files.

certbound pki revoke --dir DIR [--cert FILE ...]
  Add the certificates to DIR/ca.crl (created if missing, signed by DIR/ca.key; entries already
  there are kept) and re-issue it valid for 7 days. Without --cert it only re-issues. Servers read
  it with --tls-crl DIR/ca.crl and re-read it on SIGHUP.

${issueUsage}`;

export const initFlags: readonly FlagSpec[] = [
  { flag: 'out', type: { kind: 'path' }, doc: 'the directory the development PKI is written to' },
  { flag: 'force', type: { kind: 'boolean' }, doc: 'overwrite files that exist' },
  { flag: 'pkcs11', type: { kind: 'string' }, doc: "pkcs11:token=LABEL: make alice's, bob's and the JWT key inside that token" },
  { flag: 'pkcs11-module', type: { kind: 'path' }, doc: 'the PKCS#11 module of that token (default: PKCS11_MODULE_PATH)' },
  { flag: 'pkcs11-pin-file', type: { kind: 'path' }, doc: "a file holding the token's user PIN (default: CERTBOUND_PKCS11_PIN)" },
];

export const revokeFlags: readonly FlagSpec[] = [
  { flag: 'dir', type: { kind: 'path' }, doc: 'the PKI directory (ca.crt, ca.key; ca.crl is written)' },
  { flag: 'cert', type: { kind: 'paths' }, doc: 'certificates to revoke' },
];

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'revoke') return revoke(argv.slice(1));
  if (argv[0] === 'issue') return issue(argv.slice(1));
  const parsed = parse('pki', argv, initFlags, 1);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (parsed.positionals[0] === 'revoke') return revoke(argv.slice(1));
  if (parsed.positionals[0] !== 'init')
    throw new UsageError('pki: expected "pki init --out DIR", "pki revoke --dir DIR --cert FILE" or "pki issue --dir DIR --name NAME"');
  const out = resolve(requireString('pki init', parsed, 'out'));
  const tokenUri = optionalString(parsed, 'pkcs11');
  if (tokenUri === undefined && (parsed.values['pkcs11-module'] !== undefined || parsed.values['pkcs11-pin-file'] !== undefined))
    throw new UsageError('pki init: --pkcs11-module and --pkcs11-pin-file go with --pkcs11 pkcs11:token=LABEL');
  const pinFile = optionalString(parsed, 'pkcs11-pin-file');
  const module = optionalString(parsed, 'pkcs11-module');
  const inToken =
    tokenUri === undefined
      ? undefined
      : await makeDevKeysInToken('pki init', {
          tokenUri,
          module: module === undefined ? undefined : resolve(module),
          pinFile: pinFile === undefined ? undefined : resolve(pinFile),
        });
  const pki = await planDevPki(inToken === undefined ? {} : { inToken });
  const written = await writePlannedFiles(out, pki.files, { force: parsed.values.force === true });
  process.stdout.write(`wrote ${written.length} files to ${out}\nCA SHA-256 fingerprint: ${pki.caFingerprint}\nJWT key id: ${pki.kid}\n`);
  process.stdout.write(`${describeGitIgnore(await writeGitIgnore(out, [...DEV_PKI_FILES, 'ca.crl']), out)}\n`);
  if (inToken !== undefined) {
    for (const [name, uri] of Object.entries(inToken.uris)) process.stdout.write(`${name} key: in the PKCS#11 token, ${uri}\n`);
  }
  return 0;
}

function describeGitIgnore(outcome: GitIgnoreOutcome, out: string): string {
  switch (outcome.kind) {
    case 'written':
      return `wrote ${outcome.path} ("*"): git ignores this folder and its private keys`;
    case 'kept':
      return `kept the existing ${outcome.path}: check that it keeps the private keys out of git`;
    case 'shared':
      return `wrote no .gitignore: ${out} holds other files too (${outcome.others.slice(0, 3).join(', ')}${outcome.others.length > 3 ? ', ...' : ''}); keep its private keys out of git`;
  }
}

async function revoke(argv: string[]): Promise<number> {
  const parsed = parse('pki revoke', argv, revokeFlags);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const dir = resolve(requireString('pki revoke', parsed, 'dir'));
  const [caCert, caKey] = await Promise.all([
    readCertificates(join(dir, 'ca.crt'), 'CA certificate'),
    readPrivateKey(join(dir, 'ca.key'), 'CA private key'),
  ]);
  const ca = await loadCertificateAuthority(caCert.pem, caKey.pem);
  const revoked = new Set<string>();
  const crlPath = join(dir, 'ca.crl');
  const existing = await readFile(crlPath, 'utf8').catch((error: NodeJS.ErrnoException) =>
    error.code === 'ENOENT' ? undefined : Promise.reject(error),
  );
  if (existing !== undefined) {
    try {
      for (const serial of revokedSerials(existing)) revoked.add(serial);
    } catch {
      throw new UsageError(`pki revoke: ${crlPath}: existing CRL cannot be parsed; move it away to start a new one`);
    }
  }
  const before = revoked.size;
  const issuer = caCert.certificates[0] as X509Certificate;
  for (const path of stringList(parsed, 'cert')) {
    const leaf = (await readCertificates(path, 'certificate')).certificates[0] as X509Certificate;
    if (!leaf.checkIssued(issuer) || !leaf.verify(issuer.publicKey)) {
      throw new UsageError(`pki revoke: ${path}: not issued by ${join(dir, 'ca.crt')}`);
    }
    revoked.add(leaf.serialNumber.toLowerCase());
  }
  const pem = await createCrl(ca, { revoked: [...revoked] });
  // Write then rename, so a server reloading on SIGHUP never reads half a file.
  await writeFile(`${crlPath}.tmp`, pem, { mode: 0o644 });
  await rename(`${crlPath}.tmp`, crlPath);
  process.stdout.write(`${crlPath}: ${revoked.size} revoked (${revoked.size - before} new), valid for 7 days\n`);
  return 0;
}
