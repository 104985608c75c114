// sdk/node-redis: the rotating node-redis client and Cluster (peer: redis). Imported only by the rotation-relay/node-redis entry point.
export { createRotatingNodeRedis, DEFAULT_AUTH_RECOVERY_TIMEOUT_MS, type RotatingNodeRedisExtras, type RotatingNodeRedisOptions } from './node-redis-client.js';
export { createRotatingNodeRedisCluster, type RotatingNodeRedisClusterOptions } from './node-redis-cluster.js';
export { nodeRedisRotationStatus } from './rotation-status.js';
export type { NodeRedisRotationStatus } from './credential-follower.js';
