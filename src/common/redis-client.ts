import type { Cluster, Redis } from 'ioredis';

/**
 * A connection to the bus, standalone or Cluster: the one definition every layer that talks to
 * Redis uses (protocol's scripts, redis/connect, the SDK, the worker and the CLI).
 */
export type RedisClient = Redis | Cluster;
