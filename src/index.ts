/**
 * rotation-relay's public API: what an app instance imports to hold credentials that rotate.
 * (The worker and the CLI are run, not imported; their modules stay internal.)
 */

// Credential cache and its invalidation listener
export {
  CredentialCache,
  createCredentialCache,
  CACHE_DEFAULTS,
  SECRETS_CLIENT_SETTINGS,
  ENV_FALLBACK_VERSION_ID,
  InvalidationListener,
  type CredentialCacheEvents,
  type InvalidationListenerOptions,
  type InvalidationListenerEvents,
  type PublishedVersions,
  type SecretSpec,
  type BackoffOptions,
  type CredentialCacheOptions,
  type RefreshBudgetOptions,
  type RefreshTrigger,
  type RotatedEvent,
  type SecretStatus,
  type CacheStatus,
  type CredentialVersion,
  type CredentialSource,
  type PresenceOptions,
  type PresenceStatus,
} from './subscriber/index.js';

// Fleet convergence: wait until every live instance holds a version before revoking the old one
export {
  waitConverged,
  WAIT_CONVERGED_DEFAULTS,
  NotConvergedError,
  type NotConvergedReason,
  FleetOptionsError,
  FleetReadError,
  type WaitConvergedOptions,
  type WaitConvergedResult,
  type SecretConvergence,
  type InstanceVersion,
  type StaleInstance,
} from './fleet/index.js';

// Errors: every one extends RotationRelayError and carries a stable `code`
export { RotationRelayError } from './errors.js';
export {
  CredentialCacheConfigError,
  SecretUnavailableAtStartError,
  UnknownSecretError,
  CacheNotStartedError,
  CacheStoppedError,
  SecretParseError,
  EnvFallbackError,
} from './subscriber/index.js';
export {
  SecretNotFoundError,
  SecretVersionNotFoundError,
  SecretScheduledForDeletionError,
  SecretAccessDeniedError,
  SecretKmsAccessDeniedError,
  SecretCredentialsRejectedError,
  SecretDecryptionError,
  SecretRequestInvalidError,
  SecretsManagerUnavailableError,
} from './secrets/errors.js';
export { BinarySecretNotSupportedError } from './secrets/get-secret-value.js';

// Shared configuration and observability types the options above refer to
export type { RedisConfig } from './config/index.js';
export type { Logger } from './logging/logger.js';
export { createLogger } from './logging/logger.js';
export { MetricsEmitter, type Metrics } from './metrics/index.js';

// Rotating clients: drop-in pg pool, ioredis client and nodemailer transport that follow a secret
export { createRotatingPgPool, type RotatingPgPool, type RotatingPgPoolOptions } from './clients/pg-pool.js';
export {
  createRotatingRedis,
  redisRotationStatus,
  type RotatingRedisOptions,
  type RotatingRedisClusterOptions,
  type RedisRotationStatus,
} from './clients/redis-client.js';
export {
  createRotatingMailer,
  RotatingMailer,
  type RotatingMailerTransportOptions,
  type RotatingMailerOptions,
  type RotatingMailerStatus,
} from './clients/mailer-client.js';
export { deriveSesSmtpPassword, SesSmtpPasswordError } from './clients/ses-smtp-password.js';
export { RotatingResource, type RotatingResourceOptions, type Lease, type CredentialMode } from './clients/rotating-resource.js';
export { CredentialsRejectedError, ResourceClosedError, InvalidSecretShapeError } from './clients/errors.js';
export { isPgAuthError, isRedisAuthError, isSmtpAuthError } from './clients/auth-errors.js';
