// ESLint flat config: the type-aware rules that find real bugs (promises nobody awaits, promises
// passed where a callback's result is ignored, non-errors thrown, caught errors dropped).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

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
);
