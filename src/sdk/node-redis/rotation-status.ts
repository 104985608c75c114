import type { NodeRedisRotationStatus } from './credential-follower.js';

const statusByClient = new WeakMap<object, () => NodeRedisRotationStatus>();

export function registerRotationStatus(client: object, status: () => NodeRedisRotationStatus): void {
  statusByClient.set(client, status);
}

/**
 * The rotation state of a client made by `createRotatingNodeRedis` or
 * `createRotatingNodeRedisCluster` (versions, mode, counters — never a value); undefined for any
 * other object.
 */
export function nodeRedisRotationStatus(client: object): NodeRedisRotationStatus | undefined {
  return statusByClient.get(client)?.();
}
