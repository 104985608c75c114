// Flat config: typescript-eslint's recommended rules on top of ESLint's, plus the type-aware
// rules that catch a promise nobody waits for or handles (issue 15): an unhandled rejection ends a
// worker or an app instance, and `if (promise)` / an async listener where a sync one is expected
// is a bug the compiler does not see. Type information comes from tsconfig.json (projectService);
// `npm run typecheck` still owns type errors. Plain .js/.mjs files get the untyped rules only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'bench/results/', '.tmp/', '.tmp-*/', 'test/unit/lint-probe-*.ts', 'src/**/lint-probe-*.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  // The dependency rule (README, "Layout"), enforced: imports point down the layers only,
  //   ops (cli, infra) → relay (events, worker) → sdk (subscriber, clients, fleet)
  //     → base (protocol, secrets, redis, metrics → config) → shared (src/*.ts errors, logging).
  // The public entry points (src/index.ts, src/entry/) may import any layer.
  ...layers(),
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

/** One `no-restricted-imports` block per layer: the folders it may not import from. */
function layers() {
  const above = {
    shared: ['config', 'protocol', 'secrets', 'redis', 'metrics', 'subscriber', 'clients', 'fleet', 'events', 'worker', 'cli', 'infra', 'entry'],
    config: ['protocol', 'secrets', 'redis', 'metrics', 'subscriber', 'clients', 'fleet', 'events', 'worker', 'cli', 'infra', 'entry', 'logging'],
    // protocol, secrets, redis and metrics stand side by side: none imports another.
    protocol: ['secrets', 'redis', 'metrics', 'subscriber', 'clients', 'fleet', 'events', 'worker', 'cli', 'infra', 'entry'],
    secrets: ['protocol', 'redis', 'metrics', 'subscriber', 'clients', 'fleet', 'events', 'worker', 'cli', 'infra', 'entry'],
    redis: ['protocol', 'secrets', 'metrics', 'subscriber', 'clients', 'fleet', 'events', 'worker', 'cli', 'infra', 'entry'],
    metrics: ['protocol', 'secrets', 'redis', 'subscriber', 'clients', 'fleet', 'events', 'worker', 'cli', 'infra', 'entry'],
    sdk: ['events', 'worker', 'cli', 'infra', 'entry'],
    relay: ['cli', 'infra', 'entry'],
  };
  const filesOf = {
    shared: ['src/errors.ts', 'src/error-cause.ts', 'src/error-codes.ts', 'src/logging/**/*.ts'],
    config: ['src/config/**/*.ts'],
    protocol: ['src/protocol/**/*.ts'],
    secrets: ['src/secrets/**/*.ts'],
    redis: ['src/redis/**/*.ts'],
    metrics: ['src/metrics/**/*.ts'],
    sdk: ['src/subscriber/**/*.ts', 'src/clients/**/*.ts', 'src/fleet/**/*.ts'],
    relay: ['src/events/**/*.ts', 'src/worker/**/*.ts'],
  };
  return Object.entries(above).map(([layer, banned]) => ({
    files: filesOf[layer],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: banned.flatMap((folder) => [`**/${folder}/*`, `**/${folder}`]),
              message: `the ${layer} layer may not import this folder: imports point down the layers only (README, "Layout": ops → relay → sdk → protocol | secrets | redis | metrics → config → shared).`,
            },
          ],
        },
      ],
    },
  }));
}
