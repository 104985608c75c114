import { defineConfig } from 'vitest/config';

/**
 * One config for unit and integration tests.
 *
 * - Integration tests start real services (redis-server, moto_server, PostgreSQL, fauxqs) in
 *   their own `beforeAll` and stop them in `afterAll` (see test/support/); there is deliberately
 *   no globalSetup that starts shared services, so every test file is independent and can run
 *   alone. Hence the generous timeouts: a hook may start a Python emulator or run initdb.
 * - Test files run in separate forked processes (not worker threads) so a service a file
 *   forgot to stop dies with its process (test/support/cleanup-registry.ts), and at most 2 at a
 *   time because CI has 2 cores and each integration file also runs server processes.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The secret-leak guard: captures every test file's output and fails the file when a
    // registered secret value appears in it (test/support/leak-guard.ts).
    setupFiles: ['test/support/leak-guard-setup.ts'],
    pool: 'forks',
    poolOptions: {
      forks: { minForks: 1, maxForks: 2 },
    },
    fileParallelism: true,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
