// redis: connections to the bus (bounded, TLS, Cluster) and the one Redis credentials parser and applier.
export { applyRedisCredentials, applyRedisPassword, writeRedisCredentials, type RedisCredentialsUpdate } from './apply-credentials.js';
export { isRedisAuthError } from './auth-errors.js';
export { DEFAULT_MAX_RECONNECT_DELAY_MS, RedisNotReadyError, RedisTimeoutError, connectRedis, describeRedisTarget, redisOptionsFromConfig, waitForReady, withRedisDeadline, type ConnectOptions } from './connect.js';
export { readRedisSecret, type RedisCredentials } from './credentials.js';
