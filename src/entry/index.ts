/**
 * rotation-relay's root entry point: what every app instance imports to hold credentials that
 * rotate (the cache), every error the public API can throw, and the types its options refer to.
 * It loads neither pg, mysql2 nor nodemailer: the clients have entry points of their own, as the AWS
 * Powertools parameters package has one per provider, so an app installs only the peers it uses:
 *
 * - `rotation-relay/pg`: createRotatingPgPool (peer: pg)
 * - `rotation-relay/mysql2`: createRotatingMysql2Pool (peer: mysql2)
 * - `rotation-relay/redis`: createRotatingRedis (ioredis, a dependency: the cache runs on it)
 * - `rotation-relay/mailer`: createRotatingMailer (peer: nodemailer)
 * - `rotation-relay/fleet`: waitConverged, for a rotation Lambda or a deploy pipeline
 *
 * (The worker and the CLI are run, not imported; their modules stay internal.)
 */

// Credential cache
export { CredentialCache, createCredentialCache, type CredentialCacheEvents } from '../sdk/cache/index.js';
export { CACHE_DEFAULTS, ENV_FALLBACK_VERSION_ID } from '../sdk/cache/index.js';
export type {
  SecretSpec,
  BackoffOptions,
  CredentialCacheOptions,
  RefreshBudgetOptions,
  RefreshTrigger,
  RotatedEvent,
  RevokedEvent,
  ForceRefreshOptions,
  SecretStatus,
  CacheStatus,
  CredentialVersion,
  CredentialSource,
  PresenceOptions,
  PresenceStatus,
} from '../sdk/cache/index.js';
/** Which credential a rotating client is using: the status of every client reports it. */
export type { CredentialMode } from '../sdk/rotating/index.js';

// Errors: every one extends RotationRelayError and carries a `code` of the catalogue in
// docs/errors.md. All of those an app can receive are here, whichever entry point threw them.
export { RotationRelayError } from '../common/index.js';
export type { RotationRelayErrorCode, LibraryErrorCode } from '../common/index.js';
export {
  CredentialCacheConfigError,
  SecretUnavailableAtStartError,
  UnknownSecretError,
  CacheNotStartedError,
  CacheStoppedError,
  SecretParseError,
  EnvFallbackError,
} from '../sdk/cache/index.js';
export { InvalidKeyPrefixError, InvalidSigningKeysError, InvalidVerifyOptionsError, VersionsReadError } from '../protocol/index.js';
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
  NoCurrentVersionError,
} from '../secrets/index.js';
export { BinarySecretNotSupportedError, IncompleteSecretValueError } from '../secrets/index.js';
export { CredentialsRejectedError, ConnectionTerminatedError, ResourceClosedError, InvalidSecretShapeError, SesSmtpPasswordError } from '../sdk/rotating/index.js';
export type { ValidateBeforeSwitch, ValidateBeforeSwitchOptions } from '../sdk/rotating/index.js';
export { FleetOptionsError, FleetReadError, NotConvergedError, type NotConvergedReason } from '../sdk/fleet/index.js';
export { MetricsError, type MetricsErrorCode } from '../metrics/index.js';

// Configuration and observability the cache's options refer to
export type { RedisConfig } from '../config/index.js';
export { createLogger, type Logger, type CreateLoggerOptions } from '../common/index.js';
export { MetricsEmitter, type Metrics, type MetricsEmitterOptions } from '../metrics/index.js';
