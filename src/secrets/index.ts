export type { SecretArnParts } from './arn.js';
export {
  isPartialSecretArn,
  isSecretName,
  isSecretsManagerArn,
  parseSecretArn,
  secretIdMatches,
  secretNameFromArn,
  secretNameFromId,
} from './arn.js';
export { createSecretsClient, SDK_CLIENT_SETTINGS, type SecretsClientOptions } from './client.js';
export { describeCurrentVersion, type CurrentVersion } from './describe-current-version.js';
export { classifySecretsManagerError } from './classify-error.js';
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
  type VersionRef,
} from './errors.js';
export {
  getSecretValue,
  BinarySecretNotSupportedError,
  IncompleteSecretValueError,
  type SecretValue,
  type SecretVersionSelector,
} from './get-secret-value.js';
export { requestHandlerOptions } from './client.js';
