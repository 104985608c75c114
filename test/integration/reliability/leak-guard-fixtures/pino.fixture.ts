import { it } from 'vitest';
import { createLogger } from '../../../../src/common/logger.js';
import { fixtureSecret } from './fixture-values.js';

it('logs a registered value in a message through a default (stdout) pino logger', async () => {
  const logger = createLogger({ base: { component: 'fixture' } });
  // Redaction covers fields called password, not text in a message: this is the leak.
  logger.info(`dsn is postgres://app:${fixtureSecret('PINO')}@db/app`);
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
});
