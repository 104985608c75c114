import { it } from 'vitest';
import { registerSecretValue } from '../../../support/leak-guard.js';
import { captureLogger } from '../../../support/log-capture.js';
import { fixtureSecret } from './fixture-values.js';

it('logs a JSON secret, escaped inside a string field, to a captured logger', () => {
  // Registered as a whole JSON document, the way MotoSecrets registers a secret's value.
  const secret = JSON.stringify({ username: 'app', password: fixtureSecret('CAPTURED', { register: false }) });
  registerSecretValue(secret, 'fixture JSON secret CAPTURED');
  captureLogger({ component: 'fixture' }).logger.info({ detail: secret }, 'read a secret');
});
