import { access } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { readCertificates, readPrivateKey } from '../../files/read.js';
import { parseSpiffeId } from '../../core/spiffe.js';
import { issueCertificate, loadCertificateAuthority } from '../../pki/generate.js';
import { writePlannedFiles } from '../../pki/write.js';
import type { FlagSpec } from '../../config/option.js';
import { integerFlag, optionalString, parse, requireString, stringList, type Parsed } from '../args.js';
import { UsageError } from '../errors.js';

/** A DNS name for a certificate (RFC 1123 labels of 1 to 63 letters, digits and inner hyphens; a leading `*.` wildcard), at most 253 characters. */
const DNS_NAME = /^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export const issueUsage = `certbound pki issue --dir DIR --name NAME [--san DNS_OR_IP ...] [--spiffe-id spiffe://...] [--days N] [--server]
  Sign a new client certificate (or, with --server, a server certificate) with the dev CA in DIR
  (ca.crt, ca.key from pki init) and write DIR/NAME.crt and DIR/NAME.key (mode 0600); existing
  files are never overwritten. Valid for --days (1 to 825, default 365). For a client certificate
  it prints the entry to add to policy.clients in sts.yaml.`;

/** The longest validity the CA/Browser Forum ever allowed; a dev certificate needs no more. */
const MAX_DAYS = 825;
const DAY_MS = 24 * 60 * 60 * 1000;
/** A plain file name: no path separators, no leading dot, nothing a subject DN cannot hold. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const issueFlags: readonly FlagSpec[] = [
  { flag: 'dir', type: { kind: 'path' }, doc: 'the PKI directory (ca.crt, ca.key); NAME.crt and NAME.key are written' },
  { flag: 'name', type: { kind: 'string' }, doc: 'the common name and file name of the new certificate' },
  { flag: 'san', type: { kind: 'strings' }, doc: 'a DNS name or IP address subject alternative name' },
  { flag: 'spiffe-id', type: { kind: 'string' }, doc: 'a spiffe:// URI subject alternative name' },
  { flag: 'days', type: { kind: 'integer', min: 1, max: MAX_DAYS }, doc: 'validity in days (default 365)' },
  { flag: 'server', type: { kind: 'boolean' }, doc: 'issue a server certificate (serverAuth) instead of a client one' },
];

export async function issue(argv: string[]): Promise<number> {
  const parsed = parse('pki issue', argv, issueFlags);
  if (parsed.values.help === true) {
    process.stdout.write(`${issueUsage}\n`);
    return 0;
  }
  const dir = resolve(requireString('pki issue', parsed, 'dir'));
  const name = requireString('pki issue', parsed, 'name');
  if (!SAFE_NAME.test(name))
    throw new UsageError(`pki issue: --name ${JSON.stringify(name)} must be a plain file name (letters, digits, . _ -)`);
  const spiffeId = spiffeIdOf(parsed);
  const days = integerFlag('pki issue', parsed, 'days', 1, MAX_DAYS) ?? 365;
  for (const file of ['ca.crt', 'ca.key']) {
    const path = join(dir, file);
    await access(path).catch(() => {
      throw new UsageError(`pki issue: ${path} not found; --dir must be a folder written by certbound pki init`);
    });
  }
  const [caCert, caKey] = await Promise.all([
    readCertificates(join(dir, 'ca.crt'), 'CA certificate'),
    readPrivateKey(join(dir, 'ca.key'), 'CA private key'),
  ]);
  const ca = await loadCertificateAuthority(caCert.pem, caKey.pem);
  const sans = stringList(parsed, 'san');
  // An all-numeric name is a mistyped IP address, not a host.
  const bad = sans.find((san) => isIP(san) === 0 && (!DNS_NAME.test(san) || /^[\d.]+$/.test(san)));
  if (bad !== undefined)
    throw new UsageError(
      `pki issue: --san ${JSON.stringify(bad)} is neither a DNS name (such as api.example.com or *.example.com) nor an IP address`,
    );
  const server = parsed.values.server === true;
  const issued = await issueCertificate(ca, {
    commonName: name,
    usage: server ? 'server' : 'client',
    notAfter: new Date(Date.now() + days * DAY_MS),
    dnsNames: sans.filter((san) => isIP(san) === 0),
    ipAddresses: sans.filter((san) => isIP(san) !== 0),
    uris: spiffeId === undefined ? [] : [spiffeId],
  });
  const written = await writePlannedFiles(dir, {
    [`${name}.crt`]: { content: issued.certPem, mode: 0o644 },
    [`${name}.key`]: { content: issued.keyPem, mode: 0o600 },
  });
  if (server) {
    process.stderr.write(`wrote ${written.join(' and ')}: serve with --tls-cert ${written[0]} --tls-key ${written[1]}\n`);
    return 0;
  }
  process.stdout.write(clientEntry(name, issued.subject, spiffeId));
  process.stderr.write(
    `wrote ${written.join(' and ')}: add the entry above to policy.clients in ${join(dir, 'sts.yaml')}, then restart the STS (SIGHUP does not re-read the policy)\n`,
  );
  return 0;
}

function spiffeIdOf(parsed: Parsed): string | undefined {
  const value = optionalString(parsed, 'spiffe-id');
  if (value !== undefined && parseSpiffeId(value) === undefined)
    throw new UsageError(`pki issue: --spiffe-id ${JSON.stringify(value)} is not a SPIFFE ID (spiffe://trust-domain/path)`);
  return value;
}

/** The sts.yaml policy.clients entry that registers the certificate by its subject DN (RFC 8705 §2.1.2). */
function clientEntry(name: string, subject: string, spiffeId: string | undefined): string {
  return `- client_id: ${name}
  certificate:
    subject_dn: "${subject}"${spiffeId === undefined ? '' : `\n    # or, by its SAN: spiffe_id: "${spiffeId}"`}
`;
}
