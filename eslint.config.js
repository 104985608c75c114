// Flat config: typescript-eslint's recommended rules on top of ESLint's, plus the type-aware
// rules that catch a promise nobody waits for or handles (issue 15): an unhandled rejection ends a
// worker or an app instance, and `if (promise)` / an async listener where a sync one is expected
// is a bug the compiler does not see. Type information comes from tsconfig.json (projectService);
// `npm run typecheck` still owns type errors. Plain .js/.mjs files get the untyped rules only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The modules of src and, for each, the modules it may import — the layering
 *   ops (cli, infra) → relay (events, worker) → sdk (cache, fleet; rotating; pg, mysql2, ioredis, node-redis, mailer)
 *     → protocol | secrets | redis | metrics → config → common
 * written as data. The entry points (src/entry: index.ts is the root, the others the subpaths) are the package's surface: they
 * may import the SDK and what it stands on, never the relay or ops.
 */
const BASE = ['protocol', 'secrets', 'redis', 'metrics', 'config', 'common'];
const SDK = ['sdk/cache', 'sdk/fleet', 'sdk/rotating', 'sdk/pg', 'sdk/mysql2', 'sdk/ioredis', 'sdk/node-redis', 'sdk/mailer'];
export const MAY_IMPORT = {
  common: [],
  config: ['common'],
  // protocol, secrets, redis and metrics stand side by side: none imports another.
  protocol: ['config', 'common'],
  secrets: ['config', 'common'],
  redis: ['config', 'common'],
  metrics: ['config', 'common'],
  'sdk/cache': BASE,
  'sdk/fleet': BASE,
  // Every rotating client stands on the common core (generation switch, auth-failure policy), and
  // on the cache's credential source; no client imports another.
  'sdk/rotating': ['sdk/cache', ...BASE],
  'sdk/pg': ['sdk/rotating', 'sdk/cache', ...BASE],
  'sdk/mysql2': ['sdk/rotating', 'sdk/cache', ...BASE],
  'sdk/ioredis': ['sdk/rotating', 'sdk/cache', ...BASE],
  'sdk/node-redis': ['sdk/rotating', 'sdk/cache', ...BASE],
  'sdk/mailer': ['sdk/rotating', 'sdk/cache', ...BASE],
  'relay/events': [...SDK, ...BASE],
  'relay/worker': ['relay/events', ...SDK, ...BASE],
  'ops/infra': ['relay/events', 'relay/worker', ...SDK, ...BASE],
  'ops/cli': ['ops/infra', 'relay/events', 'relay/worker', ...SDK, ...BASE],
  entry: [...SDK, ...BASE],
};
const MODULES = Object.keys(MAY_IMPORT).filter((module) => module !== 'entry');
/**
 * A relative import names a module by its folder's last segment (the relay writes sdk/cache/x.js
 * two levels up, a sibling in sdk writes cache/x.js one level up); package imports (`pg`,
 * `ioredis`) never match, as they do not start with a dot.
 */
const folderOf = (module) => module.split('/').pop();
const intoModule = (modules) => `^\\.\\.?/(?:.*/)?(?:${modules.map(folderOf).join('|')})(?:/.*)?$`;
const pastIndex = (modules) => `^\\.\\.?/(?:.*/)?(?:${modules.map(folderOf).join('|')})/(?!index\\.js$)`;

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
  // The dependency rule (README, "Layout"), enforced: imports point down the layers only, and
  // into another module only through its index.ts (docs/architecture.md lists what each may use).
  ...modules(),
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

/** One `no-restricted-imports` block per module: the modules it may not import, and index-only access to the others. */
function modules() {
  return Object.entries(MAY_IMPORT).map(([module, allowed]) => {
    const others = MODULES.filter((other) => other !== module);
    const banned = others.filter((other) => !allowed.includes(other));
    return {
      files: module === 'entry' ? ['src/entry/**/*.ts'] : [`src/${module}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              ...(banned.length === 0 ? [] : [{
                regex: intoModule(banned),
                message: `${module} may not import this module: imports point down the layers only (README, "Layout": ops → relay → sdk → protocol | secrets | redis | metrics → config → common).`,
              }]),
              ...(allowed.length === 0 ? [] : [{
                regex: pastIndex(allowed),
                message: 'import another module through its index.ts: a module\'s index is its surface to the others (README, "Layout").',
              }]),
            ],
          },
        ],
      },
    };
  });
}
