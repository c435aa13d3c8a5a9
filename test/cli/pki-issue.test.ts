// `certbound pki issue`: a new client certificate from the dev CA, and the sts.yaml entry it prints
// really registers it at a real STS.
import 'reflect-metadata';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate, SubjectAlternativeNameExtension } from '@peculiar/x509';
import { parseDocument } from 'yaml';
import { hashSubjectToken } from '../../src/core/policy/authorize.js';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli, startServer } from './run.js';

let dir: string;
const file = (name: string): string => join(dir, name);

before(async () => {
  dir = await makeTempDir('pki-issue');
  await pkiInit(dir);
});
after(async () => {
  await killAll();
  await removeTempDir(dir);
});

test('pki issue signs a client certificate with the dev CA, and its printed entry lets a real STS exchange for it', async () => {
  const issued = await runCli([
    ...['pki', 'issue', '--dir', dir, '--name', 'carol', '--days', '30'],
    ...['--san', 'carol.domain.com', '--san', '*.carol.domain.com', '--san', '10.1.2.3'],
    ...['--spiffe-id', 'spiffe://domain.com/ns/default/sa/carol'],
  ]);
  assert.equal(issued.code, 0, issued.stderr);
  assert.match(issued.stderr, /add the entry above to policy\.clients in .*sts\.yaml/);
  assert.equal((await stat(file('carol.key'))).mode & 0o777, 0o600);

  const cert = new X509Certificate(await readFile(file('carol.crt'), 'utf8'));
  const ca = new X509Certificate(await readFile(file('ca.crt'), 'utf8'));
  assert.equal(cert.issuer, ca.subject);
  assert.ok(await cert.verify({ publicKey: ca.publicKey, signatureOnly: true }));
  const names = cert.getExtension(SubjectAlternativeNameExtension)?.names.toJSON() ?? [];
  assert.deepEqual(names.map((name) => `${name.type}:${name.value}`).sort(), [
    'dns:*.carol.domain.com',
    'dns:carol.domain.com',
    'ip:10.1.2.3',
    'url:spiffe://domain.com/ns/default/sa/carol',
  ]);
  const days = (cert.notAfter.getTime() - cert.notBefore.getTime()) / 86_400_000;
  assert.ok(days > 29 && days <= 31, `valid for ${days} days`);

  // Paste the printed entry into sts.yaml, with a subject token pinned to carol's certificate.
  const config = parseDocument(await readFile(file('sts.yaml'), 'utf8'));
  const entry = parseDocument(issued.stdout).toJS() as unknown[];
  assert.equal(entry.length, 1, issued.stdout);
  config.addIn(['policy', 'clients'], entry[0]);
  const thumbprint = (await runCli(['thumbprint', file('carol.crt')])).stdout.trim();
  config.addIn(['policy', 'subject_tokens'], {
    sha256: hashSubjectToken('carols-secret'),
    subject: 'carol',
    client_certificate: { 'x5t#S256': thumbprint },
    token_types: ['urn:ietf:params:oauth:token-type:access_token'],
    audiences: ['https://server.domain.com:8443'],
  });
  await writeFile(file('sts.yaml'), config.toString());
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
  const token = await runCli([
    ...['token', '--sts', sts.url, '--servername', 'sts.domain.com', '--tls-ca', file('ca.crt')],
    ...['--tls-cert', file('carol.crt'), '--tls-key', file('carol.key'), '--subject-token', 'carols-secret'],
    ...['--audience', 'https://server.domain.com:8443', '--output', 'token'],
  ]);
  assert.equal(token.code, 0, token.stderr);
  const inspected = await runCli(['inspect', token.stdout.trim(), '--cert', file('carol.crt')]);
  assert.equal(inspected.code, 0, inspected.stderr);
  assert.match(inspected.stdout, /"client_id": "carol"/);
});

test('pki issue refuses to overwrite, a folder without a CA, a bad name, SAN or SPIFFE ID (exit 2, one line)', async () => {
  const cases: [string[], RegExp][] = [
    [['--dir', dir, '--name', 'alice'], /alice\.(crt|key).*already exists/],
    [['--dir', join(dir, 'nowhere'), '--name', 'dave'], /ca\.crt not found.*pki init/],
    [['--dir', dir, '--name', '../evil'], /--name .* must be a plain file name/],
    [['--dir', dir, '--name', 'erin', '--spiffe-id', 'https://x'], /--spiffe-id .* is not a SPIFFE ID/],
    [['--dir', dir, '--name', 'frank', '--days', '0'], /--days/],
    [['--dir', dir, '--name', 'gina', '--san', 'bad name'], /--san "bad name" is neither a DNS name .* nor an IP address\n$/],
    [['--dir', dir, '--name', 'gina', '--san', '1.2.3.999'], /--san "1\.2\.3\.999" is neither a DNS name/],
    [['--dir', dir, '--name', 'gina', '--san', 'https://api.example'], /--san "https:\/\/api\.example" is neither/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(['pki', 'issue', ...args]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`^certbound: ${message.source}`.replace('^certbound: ', '^certbound: .*')));
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  }
});
