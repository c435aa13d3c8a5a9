import assert from 'node:assert/strict';
import { test } from 'node:test';

// The package's exports map, resolved through the package's own name as a user would import it.
test('every subpath export resolves and exposes its entry points', async () => {
  const core = await import('certbound');
  assert.equal(typeof core.computeThumbprint, 'function');
  assert.equal(typeof core.createBoundTokenVerifier, 'function');
  assert.equal(core.GRANT_TYPE_TOKEN_EXCHANGE, 'urn:ietf:params:oauth:grant-type:token-exchange');
  const sts = await import('certbound/sts');
  assert.equal(typeof sts.createStsServer, 'function');
  assert.equal(typeof sts.loadStsConfig, 'function');
  const node = await import('certbound/node');
  assert.equal(typeof node.protect, 'function');
  assert.equal(typeof node.loadJwksSource, 'function');
  const fastifyAdapter = await import('certbound/fastify');
  assert.equal(typeof fastifyAdapter.certboundFastify, 'function');
  const expressAdapter = await import('certbound/express');
  assert.equal(typeof expressAdapter.createExpressMiddleware, 'function');
  const client = await import('certbound/client');
  assert.equal(typeof client.createTokenSource, 'function');
  assert.equal(typeof client.createBoundFetch, 'function');
  const pki = await import('certbound/pki');
  assert.equal(typeof pki.planDevPki, 'function');
  const grpc = await import('certbound/grpc');
  assert.equal(typeof grpc.createServerInterceptor, 'function');
  assert.equal(typeof grpc.createStsCredentials, 'function');
  assert.equal(typeof grpc.createCallCredentials, 'function');
  assert.equal(typeof grpc.createEnvoyAuthorizationService, 'function');
  const errors = await import('certbound/errors');
  assert.equal(errors.CertboundError, core.CertboundError, 'one error class, whichever subpath it comes from');
});

test('the core entry point loads no gRPC or HTTP framework module', async () => {
  const { spawnSync } = await import('node:child_process');
  // A fresh process, so that modules other tests loaded do not count.
  const script =
    "await import('certbound'); const { createRequire } = await import('node:module'); const cache = createRequire(import.meta.url).cache; console.log(JSON.stringify(Object.keys(cache)));";
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(result.status, 0, result.stderr);
  const loaded = JSON.parse(result.stdout) as string[];
  assert.deepEqual(
    loaded.filter((path) => /@grpc|grpc-health-check|protobufjs|fastify|express/.test(path)),
    [],
  );
});

test('certbound/grpc needs only @grpc/grpc-js to load: proto-loader waits for createEnvoyAuthorizationService', async () => {
  const { spawnSync } = await import('node:child_process');
  const script =
    "await import('certbound/grpc'); const { createRequire } = await import('node:module'); console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));";
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(result.status, 0, result.stderr);
  const loaded = JSON.parse(result.stdout) as string[];
  assert.ok(loaded.some((path) => /node_modules\/@grpc\/grpc-js\//.test(path)));
  assert.deepEqual(
    loaded.filter((path) => /node_modules\/(@grpc\/proto-loader|protobufjs)\//.test(path)),
    [],
  );
});

test('certbound and certbound/node load neither Fastify nor Express', async () => {
  const { spawnSync } = await import('node:child_process');
  for (const entry of ['certbound', 'certbound/node']) {
    const script = `await import('${entry}'); const { createRequire } = await import('node:module'); console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(
      (JSON.parse(result.stdout) as string[]).filter((path) => /node_modules\/(fastify|express)\//.test(path)),
      [],
      entry,
    );
  }
});

test("docs/design.md lists exactly each entry point's runtime exports", async () => {
  const { readFile } = await import('node:fs/promises');
  const doc = await readFile(new URL('../../../docs/design.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `(certbound(?:\/[a-z]+)?)` \| `[^`]+` \| (.*) \|$/gm)];
  assert.ok(rows.length >= 9, 'the exports table is where design.md keeps it');
  const entries = new Set<string>();
  for (const [, entry, cell] of rows) {
    entries.add(entry as string);
    // Values come first; types (and optional peers) after "; type(s)" or ". ".
    const values = (cell as string).split(/; types? |\. /)[0] as string;
    const documented = [...values.matchAll(/`([A-Za-z_]\w*)`/g)].map((match) => match[1]).sort();
    const actual = Object.keys(await import(entry as string)).sort();
    assert.deepEqual(documented, actual, `${entry}: docs/design.md and the module disagree`);
  }
  assert.deepEqual([...entries].sort(), [
    'certbound',
    'certbound/client',
    'certbound/errors',
    'certbound/express',
    'certbound/fastify',
    'certbound/grpc',
    'certbound/node',
    'certbound/pki',
    'certbound/sts',
  ]);
});
