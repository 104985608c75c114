import { readRedisSecret, type RedisCredentials } from '../../redis/index.js';
import { InvalidSecretShapeError } from '../rotating/index.js';

// The rules are those of the one Redis secret parser (redis/credentials.ts), shared with the
// rotating ioredis client and the cache's own listener, so one secret is read the same way by
// every Redis connection of an app. This file only turns what is wrong into the clients' typed
// error, and refuses options that would bypass the secret.

export type { RedisCredentials } from '../../redis/index.js';

/**
 * Reads a secret value as Redis credentials (shapes: see `readRedisSecret`). `fallbackUsername`
 * (the options' `username`) is used when the secret names no user. Throws
 * {@link InvalidSecretShapeError} naming the secret and the field, never a value.
 */
export function nodeRedisCredentialsFromSecret(secretName: string, value: unknown, fallbackUsername?: string): RedisCredentials {
  const reading = readRedisSecret(value, fallbackUsername);
  if (!reading.ok) throw new InvalidSecretShapeError(secretName, reading.problem.field, reading.problem.expected);
  return reading.credentials;
}

/** The option fields that would carry credentials past the secret. */
interface CredentialFields {
  password?: unknown;
  credentialsProvider?: unknown;
  url?: unknown;
}

/**
 * Throws a TypeError when `options` carries a password, a credentials provider or a URL with
 * user info: node-redis would use them instead of the rotating secret (a URL's `user:pass@`
 * becomes a credentials provider of its own that overrides the one given). `where` names the
 * options in the message (`options`, `defaults`, `rootNodes[1]`). The value is never quoted.
 */
export function rejectCredentialOptions(options: CredentialFields | undefined, where: string, fn: string): void {
  if (options === undefined) return;
  if (options.password !== undefined) throw new TypeError(`${fn}: do not pass \`${where}.password\`; it comes from the rotating secret`);
  if (options.credentialsProvider !== undefined) {
    throw new TypeError(`${fn}: do not pass \`${where}.credentialsProvider\`; the rotating client installs its own`);
  }
  if (typeof options.url === 'string' && urlHasUserInfo(options.url)) {
    throw new TypeError(`${fn}: \`${where}.url\` must not carry a user or password (the secret gives the password; put a user name in \`username\`)`);
  }
}

/** `redis://user:pass@host`, `rediss://:pass@host`, `unix://user@/path`: anything before an `@` of the authority. */
function urlHasUserInfo(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url);
}
