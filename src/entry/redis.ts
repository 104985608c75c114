/**
 * `rotation-relay/redis`: an ioredis client (or Cluster) that follows a secret of a
 * CredentialCache. ioredis is a dependency of rotation-relay itself (the cache's invalidation
 * bus runs on it), so nothing more to install. Its errors are exported by the root, `rotation-relay`.
 */
export {
  createRotatingRedis,
  redisRotationStatus,
  type RotatingRedisOptions,
  type RotatingRedisClusterOptions,
  type RedisRotationStatus,
} from '../sdk/ioredis/index.js';
export { isRedisAuthError } from '../sdk/rotating/index.js';
