// Lint for the whole project (`npm run lint`, part of `npm test`): ESLint's and typescript-eslint's
// recommended rules, one import order, type-only imports marked as such, and the layer rule that
// keeps agent/, server/ and the pure core policies/ apart (test/architecture.test.ts checks the
// finer server layers).
import js from '@eslint/js';
import simpleImportSort from 'eslint-plugin-simple-import-sort';
import tseslint from 'typescript-eslint';

const importsOf = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-agent/**',
      'node_modules/**',
      'test-artifacts/**',
      'coverage/**',
      'server/ui/static/**',
      'test/.cache/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'simple-import-sort': simpleImportSort },
    rules: {
      'simple-import-sort/imports': 'error',
      'simple-import-sort/exports': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Terminal and file-name hygiene matches control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  // Plain Node scripts (the packager, this file): Node's globals.
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' } },
  },
  {
    files: ['agent/**/*.ts'],
    rules: importsOf({ group: ['**/server/**'], message: 'agent/ never imports server/ (share through policies/)' }),
  },
  {
    files: ['server/**/*.ts'],
    rules: importsOf({ group: ['**/agent/**'], message: 'server/ never imports agent/ (share through policies/)' }),
  },
  {
    files: ['policies/**/*.ts'],
    rules: importsOf(
      {
        group: ['**/agent/**', '**/server/**'],
        message: 'policies/ is the shared core: it imports neither agent/ nor server/',
      },
      {
        group: ['node:fs', 'node:fs/*', 'node:child_process', 'node:net', 'node:http', 'node:https'],
        message: 'policies/ does no I/O',
      },
    ),
  },
);
