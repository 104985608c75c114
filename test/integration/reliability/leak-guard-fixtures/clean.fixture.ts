import { it } from 'vitest';
import { createLogger } from '../../../../src/common/logger.js';
import { captureLogger } from '../../../support/log-capture.js';
import { fixtureSecret } from './fixture-values.js';

it('uses a registered value without printing it: the guard stays quiet', async () => {
  const password = fixtureSecret('CLEAN');
  const logger = createLogger({ base: { component: 'fixture' } });
  // pino redacts a field called password: the value never reaches the output.
  logger.info({ password, length: password.length }, 'connected');
  captureLogger({ component: 'fixture' }).logger.info({ user: { password } }, 'connected');
  console.log(`password has ${password.length} characters`);
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
});
