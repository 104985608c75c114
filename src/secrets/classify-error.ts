import {
  SecretAccessDeniedError,
  SecretCredentialsRejectedError,
  SecretDecryptionError,
  SecretKmsAccessDeniedError,
  SecretNotFoundError,
  SecretRequestInvalidError,
  SecretScheduledForDeletionError,
  SecretsManagerUnavailableError,
  SecretVersionNotFoundError,
  secretOrVersionNotFound,
  type VersionRef,
} from './errors.js';

const DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'NotAuthorized']);
/** The credentials themselves were refused: renewing them is the fix, not a grant. */
const CREDENTIALS_REJECTED = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'ExpiredToken',
  'RequestExpired',
]);
const INVALID = new Set(['InvalidParameterException', 'ValidationException', 'ValidationError']);

// What AWS (and moto_server) say in a ResourceNotFoundException, the only way to tell a missing
// version from a missing secret: "…can't find the specified secret value for VersionId: v" /
// "…for staging label: AWSPENDING" against "…can't find the specified secret."
const VERSION_MISSING = /secret value for (VersionId|staging label)/i;
const SECRET_MISSING = /can't find the specified secret\.?\s*$/i;
const KMS = /\bkms\b/i;
const MARKED_FOR_DELETION = /marked (for )?delet/i;

/**
 * Map an AWS SDK error onto what callers act on and what an operator must fix: the secret is gone
 * (or only the version asked for), access is denied (to the secret, or to its KMS key), the
 * credentials are refused, the value cannot be decrypted, the request is malformed, or Secrets
 * Manager is unavailable (retry later). AWS messages are read to tell cases apart but never
 * copied into ours: they can quote request parameters, so they stay in `cause`.
 */
export function classifySecretsManagerError(error: unknown, secretId: string, action: string, version?: VersionRef): Error {
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : '';
  const options = { cause: error };
  switch (true) {
    case name === 'ResourceNotFoundException':
      if (version === undefined) return new SecretNotFoundError(secretId, options);
      if (VERSION_MISSING.test(message)) return new SecretVersionNotFoundError(secretId, version, options);
      if (SECRET_MISSING.test(message)) return new SecretNotFoundError(secretId, options);
      return secretOrVersionNotFound(secretId, version, options);
    case name === 'DecryptionFailure':
      return new SecretDecryptionError(secretId, options);
    case DENIED.has(name):
      return KMS.test(message) ? new SecretKmsAccessDeniedError(secretId, action, options) : new SecretAccessDeniedError(secretId, action, options);
    case CREDENTIALS_REJECTED.has(name):
      return new SecretCredentialsRejectedError(secretId, action, name, options);
    case name === 'InvalidRequestException':
      // GetSecretValue on a secret scheduled for deletion; otherwise a request this state refuses.
      if (MARKED_FOR_DELETION.test(message)) return new SecretScheduledForDeletionError(secretId, action, options);
      return new SecretRequestInvalidError(secretId, action, name, { cause: error, ...(version ? { version } : {}) });
    case INVALID.has(name):
      return new SecretRequestInvalidError(secretId, action, name, { cause: error, ...(version ? { version } : {}) });
    default:
      return new SecretsManagerUnavailableError(secretId, action, options);
  }
}
