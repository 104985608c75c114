// Flat config: typescript-eslint's recommended rules on top of ESLint's, plus the type-aware
// rules that catch a promise nobody waits for or handles (issue 15): an unhandled rejection ends a
// worker or an app instance, and `if (promise)` / an async listener where a sync one is expected
// is a bug the compiler does not see. Type information comes from tsconfig.json (projectService);
// `npm run typecheck` still owns type errors. Plain .js/.mjs files get the untyped rules only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'bench/results/', '.tmp/', '.tmp-*/', 'test/unit/lint-probe-*.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // `void promise` stays allowed: it says "fire and forget" on purpose, next to a comment why.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
);
