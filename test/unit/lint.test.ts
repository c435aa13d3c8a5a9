import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { before, test } from 'node:test';
import { ESLint } from 'eslint';

// The layer boundaries of src/ are ESLint rules (eslint.config.js). A rule that resolves no import
// reports nothing, so a broken resolver or a mistyped zone would pass `npm run lint` silently.
// These lint one forbidden import each, as if written into a new file of src/ (a file nothing
// imports yet, so no cycle either), and expect the error.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let eslint: ESLint;
before(() => {
  eslint = new ESLint({
    cwd: ROOT,
    // The repository's own config, minus type information: the boundary rules need none, and
    // building the TypeScript program for the whole project would take most of this test's time.
    overrideConfig: { files: ['**/*.ts'], languageOptions: { parserOptions: { projectService: false, project: null } } },
    ruleFilter: ({ ruleId }) =>
      ruleId.startsWith('import-x/') || ['no-restricted-imports', 'no-restricted-globals', 'no-console', 'max-lines'].includes(ruleId),
  });
});

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${filePath}` });
  assert.ok(result !== undefined);
  assert.equal(result.fatalErrorCount, 0, JSON.stringify(result.messages));
  return result.messages.map((message) => `${message.line} ${message.ruleId ?? 'fatal'}`);
}

test('src/core may not import an adapter: import-x/no-restricted-paths', async () => {
  assert.deepEqual(await problems('src/core/canary.ts', "export { createStsServer } from '../sts/server.js';\n"), [
    '1 import-x/no-restricted-paths',
  ]);
  // Dynamic imports count too.
  assert.deepEqual(await problems('src/core/canary.ts', "export const http = () => import('../http/index.js');\n"), [
    '1 import-x/no-restricted-paths',
  ]);
  // What the core may import passes.
  assert.deepEqual(
    await problems('src/core/canary.ts', "export { DEFAULTS } from '../defaults.js';\nexport { CNF_X5T_S256 } from './rfc.js';\n"),
    [],
  );
});

test('layers: defaults.ts is a leaf, files/ never reads pki/, adapters never import each other', async () => {
  assert.deepEqual(await problems('src/defaults.ts', "export { CNF_X5T_S256 } from './core/rfc.js';\n"), [
    '1 import-x/no-restricted-paths',
  ]);
  assert.deepEqual(await problems('src/files/canary.ts', "export { canonicalDistinguishedName } from '../pki/distinguished-name.js';\n"), [
    '1 import-x/no-restricted-paths',
  ]);
  assert.deepEqual(await problems('src/http/canary.ts', "export { createStsServer } from '../sts/server.js';\n"), [
    '1 import-x/no-restricted-paths',
  ]);
  assert.deepEqual(await problems('src/grpc/canary.ts', "export * from '../http/index.js';\n"), ['1 import-x/no-restricted-paths']);
  // config/ reads pki/distinguished-name.ts (policy DNs), and no other pki module.
  assert.deepEqual(
    await problems(
      'src/config/canary.ts',
      "export { canonicalDistinguishedName } from '../pki/distinguished-name.js';\nexport * from '../pki/index.js';\n",
    ),
    ['2 import-x/no-restricted-paths'],
  );
  assert.deepEqual(await problems('src/cli/canary.ts', "export { createStsServer } from '../sts/server.js';\n"), []);
});

test('src/core imports no I/O module, and reads no process state', async () => {
  const code = [
    "import { readFile } from 'node:fs/promises';",
    "import { connect } from 'tls';",
    "import { parse } from 'yaml';",
    'export const f = [readFile, connect, parse];',
  ].join('\n');
  assert.deepEqual(await problems('src/core/canary.ts', code), [
    '1 no-restricted-imports',
    '2 no-restricted-imports',
    '3 no-restricted-imports',
  ]);
  assert.deepEqual(await problems('src/core/canary.ts', 'export const debug = process.env.DEBUG;\nconsole.log(debug);\n'), [
    '1 no-restricted-globals',
    '2 no-console',
  ]);
});

test('@peculiar/x509 and reflect-metadata only under src/pki/; gRPC packages only in src/grpc/ and its CLI command', async () => {
  assert.deepEqual(await problems('src/sts/canary.ts', "import '@peculiar/x509';\nimport 'reflect-metadata';\n"), [
    '1 no-restricted-imports',
    '2 no-restricted-imports',
  ]);
  assert.deepEqual(await problems('src/pki/canary.ts', "import '@peculiar/x509';\nimport 'reflect-metadata';\n"), []);
  assert.deepEqual(await problems('src/http/canary.ts', "import '@grpc/grpc-js';\nimport 'grpc-health-check';\n"), [
    '1 no-restricted-imports',
    '2 no-restricted-imports',
  ]);
  assert.deepEqual(await problems('src/grpc/canary.ts', "import '@grpc/grpc-js';\n"), []);
});

test('an import cycle is an error: import-x/no-cycle', async () => {
  // core/claims.ts imports core/rfc.ts; rfc.ts importing claims.ts back closes a cycle.
  assert.deepEqual(await problems('src/core/rfc.ts', "export * from './claims.js';\n"), ['1 import-x/no-cycle']);
  // A type-only import is erased at run time, so it makes no cycle.
  assert.deepEqual(
    await problems('src/core/rfc.ts', "import type { AccessTokenClaims } from './claims.js';\nexport type Claims = AccessTokenClaims;\n"),
    [],
  );
});

test('a source file of src/ past 300 lines is an error (max-lines): one concept per file', async () => {
  assert.deepEqual(await problems('src/core/canary.ts', 'export const a = 1;\n'.repeat(300)), []);
  assert.deepEqual(await problems('src/core/canary.ts', 'export const a = 1;\n'.repeat(300) + '// and one more\n'), ['301 max-lines']);
});
