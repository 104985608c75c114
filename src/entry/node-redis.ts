/**
 * `rotation-relay/node-redis`: a node-redis client (`createClient`) or Cluster (`createCluster`)
 * whose logins follow a secret of a CredentialCache. Needs `redis` (node-redis v6) installed next
 * to rotation-relay: an optional peer dependency, so an app on ioredis does not install it
 * (node-redis ships its own types). Its errors are exported by the root, `rotation-relay`.
 */
export {
  createRotatingNodeRedis,
  createRotatingNodeRedisCluster,
  nodeRedisRotationStatus,
  type NodeRedisRotationStatus,
  type RotatingNodeRedisClusterOptions,
  type RotatingNodeRedisExtras,
  type RotatingNodeRedisOptions,
} from '../sdk/node-redis/index.js';
export { isRedisAuthError } from '../sdk/rotating/index.js';
