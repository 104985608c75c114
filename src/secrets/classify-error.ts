import { SecretAccessDeniedError, SecretNotFoundError, SecretsManagerUnavailableError } from './errors.js';

const NOT_FOUND = new Set(['ResourceNotFoundException']);
const DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'UnrecognizedClientException', 'InvalidSignatureException']);

/**
 * Map an AWS SDK error onto the three outcomes callers act on: the secret is gone, we are not
 * allowed, or try again later. Only the error's name crosses over; AWS messages can quote
 * request parameters, so they stay in `cause` and out of our message.
 */
export function classifySecretsManagerError(error: unknown, secretId: string, action: string): Error {
  const name = error instanceof Error ? error.name : '';
  if (NOT_FOUND.has(name)) return new SecretNotFoundError(secretId, { cause: error });
  if (DENIED.has(name)) return new SecretAccessDeniedError(secretId, action, { cause: error });
  return new SecretsManagerUnavailableError(secretId, action, { cause: error });
}
