import { ConfigError } from '../../src/config/index.js';

/** A signing key for configs that are only loaded, never used to sign anything a test checks. */
export const TEST_SIGNING_KEY = 'unit-test-signing-key-0123456789abcdef';

/**
 * The variables a worker cannot start without: a region, the queue, and (signing being required)
 * a key. Every other setting has a default.
 */
export const MINIMAL_WORKER_ENV = Object.freeze({
  AWS_REGION: 'eu-west-1',
  ROTATION_RELAY_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/rotation-relay',
  ROTATION_RELAY_SIGNING_KEYS: TEST_SIGNING_KEY,
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
