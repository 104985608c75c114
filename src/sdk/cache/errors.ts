import { RotationRelayError } from '../../common/index.js';

/**
 * Errors the credential cache throws on purpose. Every message names the logical secret, its
 * secretId or the environment variable to fix — never a secret value, and never the text of a
 * JSON parse error (V8 quotes the input it failed on).
 */

/** The options cannot work (unknown passwordSecret, a negative interval, …). Thrown by the constructor. */
export class CredentialCacheConfigError extends RotationRelayError {
  constructor(message: string) {
    super('CREDENTIAL_CACHE_CONFIG', message);
  }
}

/** `start()` could not load a secret and it has no usable env fallback. */
export class SecretUnavailableAtStartError extends RotationRelayError {
  /** The logical names that could not be loaded. */
  readonly names: readonly string[];

  constructor(failures: ReadonlyArray<{ name: string; secretId: string; error: unknown }>) {
    const parts = failures.map(({ name, secretId, error }) => `"${name}" (secretId ${secretId}): ${describe(error)}`);
    super('SECRET_UNAVAILABLE_AT_START', `credential cache cannot start: could not load ${parts.join('; ')}`, {
      cause: failures.length === 1 ? failures[0]?.error : failures.map((failure) => failure.error),
    });
    this.names = failures.map((failure) => failure.name);
  }
}

/** `get(name)` (or another per-secret call) for a name that is not in `options.secrets`. */
export class UnknownSecretError extends RotationRelayError {
  constructor(name: string, known: readonly string[]) {
    super('UNKNOWN_SECRET', `no secret named "${name}" is configured in this credential cache (configured: ${known.join(', ') || 'none'})`);
  }
}

/** A value was asked for before `start()` resolved. */
export class CacheNotStartedError extends RotationRelayError {
  constructor(name: string) {
    super('CACHE_NOT_STARTED', `secret "${name}" is not loaded yet: await cache.start() before reading credentials`);
  }
}

/** `start()` after `stop()`: a stopped cache has released its connections for good. */
export class CacheStoppedError extends RotationRelayError {
  constructor() {
    super('CACHE_STOPPED', 'this credential cache was stopped; create a new one');
  }
}

/** A secret configured with `json: true` does not hold a JSON value. */
export class SecretParseError extends RotationRelayError {
  constructor(name: string, secretId: string, versionId: string | undefined) {
    const version = versionId === undefined ? '' : ` version ${versionId}`;
    super('SECRET_NOT_JSON', `secret "${name}" (secretId ${secretId})${version} is configured with json: true but its value is not valid JSON`);
  }
}

/** The env fallback was needed but is incomplete. */
export class EnvFallbackError extends RotationRelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ENV_FALLBACK_UNAVAILABLE', message, options);
  }
}

function describe(error: unknown): string {
  // Our own errors carry safe messages; anything else is reduced to its class name, because an
  // unknown error's message could quote a value.
  if (error instanceof RotationRelayError) return error.message;
  return error instanceof Error ? error.name : 'unknown error';
}
