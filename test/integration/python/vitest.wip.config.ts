import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import base from '../../../vitest.config.js';

/**
 * Runs the Python driver while it is still named python-suite.wip.ts (so the project's own
 * `include` does not collect it): `npx vitest run --config test/integration/python/vitest.wip.config.ts`.
 * Everything else (leak guard, forks pool, timeouts) is the project's config. Not mergeConfig:
 * it concatenates arrays, and `include` must be replaced, not extended to the whole suite.
 */
export default defineConfig({
  ...base,
  root: fileURLToPath(new URL('../../..', import.meta.url)),
  test: { ...base.test, include: ['test/integration/python/python-suite.wip.ts'] },
});
