// ESLint flat config. Two jobs: the type-aware rules that find real bugs (promises nobody awaits,
// promises passed where a callback's result is ignored, non-errors thrown, caught errors dropped),
// and the layer boundaries of src/ (which directory may import which), which
// test/unit/architecture.test.ts used to check with regular expressions. Formatting is Prettier's
// job: eslint-config-prettier turns off every rule that would disagree with it.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// ---- Layers ----------------------------------------------------------------------------------
// Each entry: a path under src/ and the paths under src/ it may import (besides itself). A
// directory covers everything below it. cli/ is the top and may import anything, so it has no
// entry. The rule is import-x/no-restricted-paths, which resolves every import (static, dynamic
// and re-export) to a file before it compares, so `../core/../sts/x.js` does not slip through.
const CORE = ['./core', './defaults.ts'];
const LAYERS = {
  // Read by every layer, so it reads none.
  './defaults.ts': [],
  // The package's main entry point exports the core only.
  './index.ts': CORE,
  // Pure: no sockets, files, frameworks or environment (the I/O modules are below, under
  // no-restricted-imports). Adapters depend on it, never the other way round.
  './core': CORE,
  // Policy subject DNs are canonicalised by @peculiar/x509's Name (commit db53657): config may
  // read that one pki module and nothing else of pki.
  './config': [...CORE, './config', './pki/distinguished-name.ts'],
  // Certificates and keys generated for development; reads the core only.
  './pki': [...CORE, './pki'],
  './server': [...CORE, './config', './server'],
  // Never pki: reading a CRL or a PEM file must not load @peculiar/x509 and its polyfill.
  './files': [...CORE, './config', './files'],
  // Key files and local JWKS are read through files/read.ts (its FileProblem errors).
  './keys': [...CORE, './config', './files', './keys'],
  // Keys in tokens (keys/pkcs11-tls-key.ts) are a client's concern too: the public entry re-exports them.
  // A client identity that follows its files reads them through files/read.ts (its FileProblem errors).
  './client': [...CORE, './config', './files', './keys', './client'],
  // Metrics: counts what the servers (server/) and the core report; no adapter.
  './metrics': [...CORE, './server', './metrics'],
  // Adapters: any lower layer, never another adapter nor the CLI.
  './sts': [...CORE, './config', './pki', './server', './files', './keys', './client', './sts'],
  './http': [...CORE, './config', './pki', './server', './files', './keys', './client', './http'],
  './grpc': [...CORE, './config', './pki', './server', './files', './keys', './client', './grpc'],
};
const zones = Object.entries(LAYERS).map(([target, allowed]) => ({
  target: `./src/${target.slice(2)}`,
  from: './src',
  except: allowed,
  message:
    allowed.length === 0
      ? `src/${target.slice(2)} imports nothing from src/.`
      : `src/${target.slice(2)} may import only ${allowed.map((a) => `src/${a.slice(2)}`).join(', ')}.`,
}));

// ---- Packages ------------------------------------------------------------------------------
// no-restricted-imports is one rule: the last config object that matches a file replaces its
// options, so each group of files below lists all the restrictions that apply to it.
const polyfilled = {
  paths: ['@peculiar/x509', 'reflect-metadata'].map((name) => ({
    name,
    // @peculiar/x509 loads tsyringe, which needs reflect-metadata on the global Reflect: a
    // polyfill a library must not impose. Elsewhere, certificates are read with @peculiar/asn1-x509.
    message: 'Only src/pki/ may import this: it installs Reflect.getMetadata (reflect-metadata).',
  })),
  patterns: [{ group: ['@peculiar/x509/*'], message: 'Only src/pki/ may import @peculiar/x509.' }],
};
const grpc = {
  paths: ['grpc-health-check'].map((name) => ({
    name,
    message: 'gRPC packages are optional peers: only src/grpc/ and the CLI command that loads it lazily may import them.',
  })),
  patterns: [
    {
      group: ['@grpc/*'],
      message: 'gRPC packages are optional peers: only src/grpc/ and the CLI command that loads it lazily may import them.',
    },
  ],
};
const IO = ['fs', 'fs/promises', 'net', 'tls', 'http', 'https', 'http2', 'dgram', 'child_process', 'process', 'os'];
const io = {
  paths: [...IO.flatMap((name) => [name, `node:${name}`]), 'undici', 'fastify', 'express', 'yaml'].map((name) => ({
    name,
    message: 'src/core does no I/O: no sockets, files, processes, environment, frameworks or parsers of files.',
  })),
  patterns: [{ group: ['undici/*', 'fastify/*', 'express/*', 'yaml/*'], message: 'src/core does no I/O.' }],
};
const restrict = (...groups) => ['error', { paths: groups.flatMap((g) => g.paths), patterns: groups.flatMap((g) => g.patterns) }];
const GRPC_USERS = [
  'src/grpc/**/*.ts',
  'src/cli/commands/grpc.ts',
  'src/cli/servers/echo-server.ts',
  'src/cli/servers/envoy-check-server.ts',
];

export default defineConfig(
  {
    ignores: ['dist/', 'bench/results/', '.certbound-*/', 'coverage/'],
  },
  {
    // Report `// eslint-disable` comments that no longer disable anything.
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test() and describe() return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
      ],
      // no-unsafe-*: 33 reports, none a bug (Array.isArray gives any[], instanceof a generic class <any>; JSON is checked at run time).
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      // Unused names are already compile errors (noUnusedLocals, noUnusedParameters).
      '@typescript-eslint/no-unused-vars': 'off',
      // `async` without `await` is how stubs and fastify plugins return promises (and turn throws into rejections).
      '@typescript-eslint/require-await': 'off',
      // An assertion TypeScript no longer needs is harmless: style, not a bug.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // grpc-js reports codes as plain numbers and expects them compared with its `status` enum.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      // A closure that reads a `let` before its one assignment cannot take a const (it would throw in the TDZ).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // scripts/*.mjs and this file: plain Node ESM, not in tsconfig.json.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Sources import `./x.js` and mean `./x.ts` (NodeNext). Without a resolved file, the
      // boundary rules skip the import silently: test/unit/lint.test.ts proves they still fire.
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'], extensionAlias: { '.js': ['.ts', '.js'] } })],
      // no-cycle follows imports into files it parses itself; by default it reads only .js.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones }],
      // Type-only imports are erased and cannot form a runtime cycle; the rule skips them.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'no-restricted-imports': restrict(polyfilled, grpc),
      // One concept per file: a source past 300 lines holds two (comments count; they are read too).
      'max-lines': ['error', { max: 300, skipBlankLines: false, skipComments: false }],
    },
  },
  {
    files: ['src/pki/**/*.ts'],
    rules: { 'no-restricted-imports': restrict(grpc) },
  },
  {
    files: GRPC_USERS,
    rules: { 'no-restricted-imports': restrict(polyfilled) },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict(polyfilled, grpc, io),
      // No environment, arguments or standard streams in the core: its callers pass them in.
      'no-restricted-globals': ['error', { name: 'process', message: 'src/core reads no process state: take it as a parameter.' }],
      'no-console': 'error',
    },
  },
  prettier,
);
