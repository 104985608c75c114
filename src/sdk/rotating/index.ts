// sdk/rotating: the core every rotating client shares — the generation switch, the errors, the auth-failure tests, the RDS secret format, validate-then-switch, the Redis credential follower.
export { isMysqlAuthError, isPgAuthError, isRedisAuthError, isSmtpAuthError } from './auth-errors.js';
export { databaseConnectionFromSecret, parsedPerVersion, type DatabaseConnection, type DatabaseConnectionOverrides, type RdsEngine } from './rds-secret.js';
export { ConnectionTerminatedError, CredentialsRejectedError, InvalidSecretShapeError, ResourceClosedError, SesSmtpPasswordError } from './errors.js';
export { ValidatedSwitch, validationBackoff, type ValidateBeforeSwitch, type ValidateBeforeSwitchOptions, type ValidatedSwitchHooks } from './validated-switch.js';
export { RotatingResource, errorSummary, type CredentialMode, type RotatingResourceStats } from './rotating-resource.js';
export { RedisCredentialFollower, type RedisCredentialFollowerOptions, type RedisFollowerCounts } from './redis-credential-follower.js';
