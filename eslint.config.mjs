import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import reactHooks from 'eslint-plugin-react-hooks';

const nodeBuiltins = [
  'node:*',
  'fs',
  'path',
  'os',
  'crypto',
  'http',
  'https',
  'net',
  'child_process',
  'stream',
  'events',
  'process',
  'worker_threads',
  'async_hooks',
  'dns',
  'tls',
  'zlib',
  'buffer',
  'timers',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'data/',
      'coverage/',
      'db/migrations/',
      '**/*.mjs',
      '**/*.cjs',
      '**/*.js',
      'web/src/api/openapi.gen.ts',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      'no-console': 'error',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: nodeBuiltins, message: 'Node built-ins are not allowed in workflow code.' },
            {
              group: ['pg', 'express', 'express-session', 'drizzle-orm', 'drizzle-orm/*', 'redis', 'pino'],
              message: 'Workflow code does no I/O: use an activity.',
            },
            {
              group: ['../activities/*', '../db/*', '../api/*', '../runtime/*'],
              allowTypeImports: true,
              message: 'Import activities and infrastructure as types only.',
            },
          ],
        },
      ],
    },
  },
  {
    // The console: React's rules of hooks; browser code, no Node built-ins.
    files: ['web/**/*.ts', 'web/**/*.tsx'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: nodeBuiltins, message: 'The console runs in a browser.' }] },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
      'no-console': 'off',
    },
  },
  prettier,
);
