// common: what every layer uses — errors with a code union, the safe error description, the logger, the Redis client type.
export { describeCause, describeError } from './error-cause.js';
export type { LibraryErrorCode, RotationRelayErrorCode } from './error-codes.js';
export { RotationRelayError, someErrorInChain } from './errors.js';
export { REDACT_PATHS, createLogger, silentLogger, type CreateLoggerOptions, type LogFn, type Logger, type PinoLogger } from './logger.js';
export type { RedisClient } from './redis-client.js';
