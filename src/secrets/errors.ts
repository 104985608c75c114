import { RotationRelayError } from '../errors.js';

/**
 * Secrets Manager said the secret does not exist (or is scheduled for deletion). Retrying will not
 * help; the worker alerts instead of looping.
 */
export class SecretNotFoundError extends RotationRelayError {
  constructor(secretId: string, options?: { cause?: unknown }) {
    super('SECRET_NOT_FOUND', `secret ${secretId} was not found in Secrets Manager`, options);
  }
}

/** The caller's IAM identity may not read this secret: a deployment fault, not a transient one. */
export class SecretAccessDeniedError extends RotationRelayError {
  constructor(secretId: string, action: string, options?: { cause?: unknown }) {
    super('SECRET_ACCESS_DENIED', `not allowed to call ${action} on secret ${secretId}; check the IAM policy`, options);
  }
}

/** Throttling, 5xx, network: worth retrying later with the last good state kept. */
export class SecretsManagerUnavailableError extends RotationRelayError {
  constructor(secretId: string, action: string, options?: { cause?: unknown }) {
    const detail = options?.cause instanceof Error ? `: ${options.cause.name}` : '';
    super('SECRETS_MANAGER_UNAVAILABLE', `${action} for secret ${secretId} failed${detail}`, options);
  }
}

/** The secret has no version carrying the AWSCURRENT label (a broken rotation or a mid-way read). */
export class NoCurrentVersionError extends RotationRelayError {
  constructor(secretId: string) {
    super('SECRET_NO_CURRENT_VERSION', `secret ${secretId} has no version labelled AWSCURRENT`);
  }
}
