// The subscriber SDK: what app instances use to hold credentials that rotate.
export { CredentialCache, createCredentialCache, SECRETS_CLIENT_SETTINGS, type CredentialCacheEvents } from './credential-cache.js';
export {
  InvalidationListener,
  type InvalidationListenerOptions,
  type InvalidationListenerEvents,
  type PublishedVersions,
} from './invalidation-listener.js';
export { CACHE_DEFAULTS } from './options.js';
export { ENV_FALLBACK_VERSION_ID } from './env-fallback.js';
export {
  CredentialCacheConfigError,
  SecretUnavailableAtStartError,
  UnknownSecretError,
  CacheNotStartedError,
  CacheStoppedError,
  SecretParseError,
  EnvFallbackError,
} from './errors.js';
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
} from './types.js';
export { recoverCredentials, type CredentialMode } from './auth-recovery.js';
// The SDK's one retry schedule: the rotating clients' validation retries use it too.
export { backoffDelay, DEFAULT_BACKOFF, type BackoffBounds } from './backoff.js';
