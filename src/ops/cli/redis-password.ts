import { loadAwsConfig, type Env, type RedisConfig } from '../../config/index.js';
import { getSecretValue } from '../../secrets/index.js';
import { cliSecretsClient } from './aws-clients.js';
import { readRedisSecret } from '../../redis/index.js';
import { UsageError } from './exit-codes.js';

/**
 * The current Redis password when ROTATION_RELAY_REDIS_PASSWORD_SECRET_ID names one: a command
 * runs for seconds, so one AWSCURRENT read is enough (the worker, which runs for weeks, follows
 * the secret instead). Undefined when the URL carries the credentials.
 */
export async function currentRedisPassword(redis: RedisConfig, env: Env): Promise<string | undefined> {
  if (redis.passwordSecretId === undefined) return undefined;
  const client = cliSecretsClient(loadAwsConfig(env));
  try {
    const secret = await getSecretValue(client, redis.passwordSecretId, { versionStage: 'AWSCURRENT' });
    let value: unknown = secret.secretString;
    try {
      value = JSON.parse(secret.secretString) as unknown;
    } catch {
      // A plain-string secret is the token itself.
    }
    // The one parser every Redis connection uses (the worker's, the SDK's), so a secret the CLI
    // accepts is one they accept too.
    const reading = readRedisSecret(value);
    if (!reading.ok) {
      const { field, expected } = reading.problem;
      throw new UsageError(`secret ${redis.passwordSecretId} (ROTATION_RELAY_REDIS_PASSWORD_SECRET_ID)${field ? ` field "${field}"` : ''}: expected ${expected}`);
    }
    return reading.credentials.password;
  } finally {
    client.destroy();
  }
}
