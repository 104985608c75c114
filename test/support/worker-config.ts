import { ConfigError } from '../../src/config/index.js';

/** The two variables a worker cannot start without: every other setting has a default. */
export const MINIMAL_WORKER_ENV = Object.freeze({
  AWS_REGION: 'eu-west-1',
  ROTATION_RELAY_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/rotation-relay',
});

/** The ConfigError `fn` throws; fails the test if it throws nothing or something else. */
export function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
