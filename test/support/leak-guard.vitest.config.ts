import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Runs the secret-leak guard's fixtures (test/integration/reliability/leak-guard-fixtures) with
 * the same setup file as the real suite. Only test/integration/reliability/leak-guard.test.ts
 * uses it: each leaky fixture must fail, the clean one must pass.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/integration/reliability/leak-guard-fixtures/*.fixture.ts'],
    setupFiles: ['test/support/leak-guard-setup.ts'],
    pool: 'forks',
    poolOptions: { forks: { minForks: 1, maxForks: 2 } },
    testTimeout: 30_000,
  },
});
