/**
 * Every `code` a RotationRelayError can carry, in one list, so `err.code` is a union a caller can
 * `switch` on exhaustively and a new code cannot be thrown without being added here (the base
 * constructor only accepts these). docs/errors.md is the catalogue, what each means and what to
 * do; test/unit/error-codes.test.ts keeps the two in step.
 */

/**
 * Codes an app can receive through the public API: `createCredentialCache`, `start()`, `get()`,
 * the rotating clients of `rotation-relay/pg`, `/mysql2`, `/redis` and `/mailer`, `waitConverged` of
 * `rotation-relay/fleet`, and `MetricsEmitter`. Each has an exported class.
 */
export const LIBRARY_ERROR_CODES = [
  // The credential cache (src/sdk/cache/errors.ts)
  'CREDENTIAL_CACHE_CONFIG',
  'SECRET_UNAVAILABLE_AT_START',
  'UNKNOWN_SECRET',
  'CACHE_NOT_STARTED',
  'CACHE_STOPPED',
  'SECRET_NOT_JSON',
  'ENV_FALLBACK_UNAVAILABLE',
  // Options checked by the protocol (key prefix, signing keys), and the versions hash
  'PROTOCOL_INVALID_KEY_PREFIX',
  'PROTOCOL_INVALID_SIGNING_KEYS',
  'PROTOCOL_INVALID_VERIFY_OPTIONS',
  'PROTOCOL_READ_FAILED',
  // Secrets Manager reads (src/secrets)
  'SECRET_NOT_FOUND',
  'SECRET_VERSION_NOT_FOUND',
  'SECRET_SCHEDULED_FOR_DELETION',
  'SECRET_ACCESS_DENIED',
  'SECRET_KMS_ACCESS_DENIED',
  'SECRET_CREDENTIALS_REJECTED',
  'SECRET_DECRYPTION_FAILED',
  'SECRET_REQUEST_INVALID',
  'SECRETS_MANAGER_UNAVAILABLE',
  'SECRET_NO_CURRENT_VERSION',
  'SECRET_BINARY_NOT_SUPPORTED',
  'SECRET_VALUE_INCOMPLETE',
  // The rotating clients (src/sdk/rotating, pg, ioredis, mailer)
  'CREDENTIALS_REJECTED',
  'RESOURCE_CLOSED',
  'CONNECTION_TERMINATED',
  'SECRET_SHAPE_INVALID',
  'SES_SMTP_PASSWORD_INVALID_INPUT',
  // Fleet convergence (src/sdk/fleet)
  'FLEET_INVALID_OPTIONS',
  'FLEET_READ_FAILED',
  'FLEET_NOT_CONVERGED',
  // Metrics (src/metrics)
  'EMF_LIMIT',
  'METRICS_INVALID_OPTIONS',
] as const;

/**
 * Codes of errors that stay inside the library (a cause in a log line or in `status()`), or that
 * only the worker and the CLI throw: an operator reads them, an app never catches them.
 */
export const INTERNAL_ERROR_CODES = [
  'REDIS_TIMEOUT',
  'REDIS_NOT_READY',
  'PRESENCE_NOT_CONNECTED',
  'PROTOCOL_INVALID_INVALIDATION',
  'PROTOCOL_PUBLISH_FAILED',
  'CONFIG_INVALID',
  'QUEUE_UNAVAILABLE',
  'AWS_NO_ANSWER',
  'DRILL_FAILED',
  'INFRA_PATTERN_INVALID',
  'INFRA_NOT_MANAGED',
  'INFRA_RULE_NOT_FOUND',
  'INFRA_DLQ_NOT_EMPTY',
  'INFRA_AWS_CALL_FAILED',
] as const;

/** Every code, library codes first. */
export const ERROR_CODES: readonly RotationRelayErrorCode[] = [...LIBRARY_ERROR_CODES, ...INTERNAL_ERROR_CODES];

/** The `code` of an error an app can receive from the public API. */
export type LibraryErrorCode = (typeof LIBRARY_ERROR_CODES)[number];

/** The `code` of any RotationRelayError. */
export type RotationRelayErrorCode = LibraryErrorCode | (typeof INTERNAL_ERROR_CODES)[number];
