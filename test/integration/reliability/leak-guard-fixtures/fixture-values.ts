import { registerSecretValue } from '../../../support/leak-guard.js';

/**
 * The value a leak-guard fixture leaks, passed in by leak-guard.test.ts through the environment
 * (a fresh random one per run), and registered the way MotoSecrets registers its values.
 */
export function fixtureSecret(name: string, { register = true } = {}): string {
  const value = process.env[`LEAK_GUARD_FIXTURE_${name}`];
  if (value === undefined || value.length < 16) throw new Error(`LEAK_GUARD_FIXTURE_${name} is not set: run this through leak-guard.test.ts`);
  if (register) registerSecretValue(value, `fixture value ${name}`);
  return value;
}
