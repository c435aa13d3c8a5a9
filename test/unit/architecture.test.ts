import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

// Which layer of src/ may import what is checked by ESLint (eslint.config.js; lint.test.ts proves
// the rules fire). What is left here: where some things are spelled, and one behaviour (the
// global Reflect). These read the TypeScript sources, so they fail on the first offender.
const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

// @peculiar/x509 loads tsyringe, which needs reflect-metadata installed on the global Reflect:
// a polyfill a library must not impose. The core reads certificates with @peculiar/asn1-x509.
test("import 'certbound' (and every subpath but certbound/pki and certbound/sts) leaves the global Reflect alone", () => {
  // A fresh process each: modules other tests loaded do not count. certbound/sts reads the
  // policy's subject DNs with @peculiar/x509 (through src/pki/), which needs the polyfill.
  for (const entry of ['index', 'core/errors', 'http/index', 'http/fastify', 'http/express', 'grpc/index', 'client/index']) {
    const url = new URL(`../../src/${entry}.js`, import.meta.url).href;
    const result = spawnSync(
      process.execPath,
      ['-e', `import(${JSON.stringify(url)}).then(() => console.log(typeof Reflect.getMetadata))`],
      { encoding: 'utf8', timeout: 10_000 },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'undefined', `dist/src/${entry}.js installs Reflect.getMetadata`);
  }
});

test('thumbprints are hashed only in core/thumbprint.ts; peer certificates are read only in server/peer-certificate.ts', () => {
  const all = sources(SRC);
  const hashing = all.filter((file) => /digest\('base64url'\)/.test(readFileSync(file, 'utf8')));
  assert.deepEqual(
    hashing.map((file) => file.slice(SRC.length)),
    ['core/thumbprint.ts'],
  );
  const peerReads = all.filter((file) => /getPeerCertificate\(/.test(readFileSync(file, 'utf8')));
  assert.deepEqual(
    peerReads.map((file) => file.slice(SRC.length)),
    ['server/peer-certificate.ts'],
  );
});

test('gRPC: peer certificates are read only in grpc/peer-certificate.ts, statuses chosen only in grpc/status.ts', () => {
  const all = sources(SRC);
  const relative = (files: string[]) => files.map((file) => file.slice(SRC.length));
  assert.deepEqual(relative(all.filter((file) => /sslPeerCertificate/.test(readFileSync(file, 'utf8')))), ['grpc/peer-certificate.ts']);
  assert.deepEqual(relative(all.filter((file) => /outcome\.grpc/.test(readFileSync(file, 'utf8')))), ['grpc/status.ts']);
});

test('no protocol URN is spelled outside core/rfc.ts', () => {
  const offenders = sources(SRC).filter(
    (file) => !file.endsWith('core/rfc.ts') && /urn:ietf:params:oauth/.test(readFileSync(file, 'utf8')),
  );
  assert.deepEqual(offenders, []);
});
