import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createRotatingRedis } from '../../sdk/ioredis/index.js';
import type { WorkerConfig } from '../../config/index.js';
import type { Logger, RedisClient } from '../../common/index.js';
import { redisOptionsFromConfig, type ConnectOptions } from '../../redis/index.js';
import { createCredentialCache, type CredentialCache } from '../../sdk/cache/index.js';

/** The logical name of the Redis password's secret inside the worker's own small cache. */
const REDIS_SECRET = 'redis';

/**
 * The worker's Redis connection when its password lives in Secrets Manager and rotates
 * (ElastiCache AUTH token, RBAC user): the same rotating ioredis client the apps use, fed by a
 * one-secret credential cache that listens on the very channel the worker publishes on. So the
 * worker relays the rotation of its own token and then follows it; and when the token changed
 * before the invalidation (WRONGPASS at a reconnect), the client refreshes it and logs in again
 * instead of being stranded.
 */
/**
 * The worker's publishing connection. No offline queue: a publish during an outage fails at once
 * and the SQS message stays on the queue. Bounded: a master that hangs (it accepts and never
 * answers) would otherwise hold a publish forever while sqs-consumer keeps extending the
 * message's visibility, so the rotation never reaches the fleet; a timed-out publish is retried,
 * and the retry reaches the master that replaced it (the publish script makes a repeat a no-op).
 */
export const WORKER_CONNECTION = {
  connectionName: 'rotation-relay:worker',
  offlineQueue: false,
  commandTimeoutMs: 5_000,
  keepAliveMs: 10_000,
} as const satisfies ConnectOptions;

export async function connectRotatingRedis(
  config: WorkerConfig,
  secrets: SecretsManagerClient,
  logger: Logger,
): Promise<{ redis: RedisClient; cache: CredentialCache }> {
  const secretId = config.redis.passwordSecretId;
  if (secretId === undefined) throw new Error('connectRotatingRedis needs ROTATION_RELAY_REDIS_PASSWORD_SECRET_ID');
  const cache = createCredentialCache({
    secrets: { [REDIS_SECRET]: { secretId, json: true } },
    redis: { ...config.redis, passwordSecret: REDIS_SECRET },
    signingKeys: config.signing.keys,
    maxAgeMs: config.signing.maxAgeMs,
    clockSkewToleranceMs: config.signing.clockSkewToleranceMs,
    secretsClient: secrets,
    logger: logger.child({ component: 'worker-redis-credentials' }),
  });
  await cache.start();
  const { password: _fromUrl, host, port, ...nodeOptions } = redisOptionsFromConfig(config.redis, WORKER_CONNECTION);
  const redis = config.redis.cluster
    ? createRotatingRedis(cache, REDIS_SECRET, {
        cluster: [{ host: host ?? '127.0.0.1', port: port ?? 6379 }],
        redisOptions: nodeOptions,
        enableOfflineQueue: false,
        ...(nodeOptions.tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
        logger,
      })
    : createRotatingRedis(cache, REDIS_SECRET, { ...nodeOptions, ...(host ? { host } : {}), ...(port ? { port } : {}), logger });
  return { redis, cache };
}
