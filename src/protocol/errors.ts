import { RotationRelayError } from '../common/index.js';

/**
 * Errors the protocol module throws on purpose. Bad *messages* never throw (parsing and
 * verification return a result with a reason); these are for bad configuration, for an
 * invalidation the worker is about to publish, and for a publish Redis could not run.
 * No message ever contains a signing key.
 */

/** The Redis key prefix cannot be used inside a hash tag. */
export class InvalidKeyPrefixError extends RotationRelayError {
  constructor(message: string) {
    super('PROTOCOL_INVALID_KEY_PREFIX', message);
  }
}

/** The signing keys are missing, empty or too short. Names the variable, never a key. */
export class InvalidSigningKeysError extends RotationRelayError {
  constructor(message: string) {
    super('PROTOCOL_INVALID_SIGNING_KEYS', message);
  }
}

/** Verification options that would make every message fail (or pass) by construction. */
export class InvalidVerifyOptionsError extends RotationRelayError {
  constructor(message: string) {
    super('PROTOCOL_INVALID_VERIFY_OPTIONS', message);
  }
}

/** An invalidation built or published by this process does not match the schema. */
export class InvalidInvalidationError extends RotationRelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROTOCOL_INVALID_INVALIDATION', message, options);
  }
}

/** The publish script could not run (Redis down, wrong key type, unexpected reply). */
export class PublishError extends RotationRelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROTOCOL_PUBLISH_FAILED', message, options);
  }
}

/** Reading `{P}:versions` failed (Redis down, wrong key type). */
export class VersionsReadError extends RotationRelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROTOCOL_READ_FAILED', message, options);
  }
}
