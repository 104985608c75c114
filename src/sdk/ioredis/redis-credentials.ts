import { readRedisSecret, type RedisCredentials } from '../../redis/index.js';
import { InvalidSecretShapeError } from '../rotating/index.js';

// The rules are those of the one Redis secret parser (redis/credentials.ts), which the cache's
// own listener uses too; this file only turns what is wrong into the clients' typed error.

export type { RedisCredentials } from '../../redis/index.js';

/**
 * Reads a secret value as Redis credentials (shapes: see `readRedisSecret`). `fallbackUsername`
 * (from the client options) is used when the secret names no user. Throws
 * {@link InvalidSecretShapeError} naming the secret and the field, never a value.
 */
export function redisCredentialsFromSecret(secretName: string, value: unknown, fallbackUsername?: string): RedisCredentials {
  const reading = readRedisSecret(value, fallbackUsername);
  if (!reading.ok) throw new InvalidSecretShapeError(secretName, reading.problem.field, reading.problem.expected);
  return reading.credentials;
}
