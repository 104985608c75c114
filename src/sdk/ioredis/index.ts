// sdk/ioredis: the rotating ioredis client (standalone and Cluster).
export { createRotatingRedis, redisRotationStatus, type RedisRotationStatus, type RotatingRedisClusterOptions, type RotatingRedisOptions } from './redis-client.js';
