import { z } from 'zod';
import { InvalidSecretShapeError } from './errors.js';

/**
 * What a Redis connection authenticates with. `username` undefined = the `default` user
 * (`AUTH <password>`, ElastiCache AUTH token / `requirepass`).
 */
export interface RedisCredentials {
  username: string | undefined;
  password: string;
}

/**
 * Accepted secret shapes (unknown extra fields pass, e.g. ElastiCache's `user_arn`):
 * - a plain string: the AUTH token / password itself;
 * - `{ password }` or `{ authToken }`: an ElastiCache/MemoryDB AUTH token;
 * - `{ username, password }`: an ACL / ElastiCache RBAC user (MemoryDB ACL users, too).
 */
const objectSchema = z.looseObject({
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  authToken: z.string().min(1).optional(),
});

const EXPECTED: Record<string, string> = {
  username: 'a non-empty string (the ACL / RBAC user name)',
  password: 'a non-empty string',
  authToken: 'a non-empty string (the ElastiCache AUTH token)',
};

const SHAPES =
  'a Redis secret: a plain string token, { "password" } or { "authToken" } (ElastiCache AUTH token), ' +
  'or { "username", "password" } (ACL / RBAC user)';

/**
 * Reads a secret value as Redis credentials. `fallbackUsername` (from the client options) is
 * used when the secret names no user. Errors name the secret and the field, never a value: zod's
 * own messages are not used because some of them quote the input.
 */
export function redisCredentialsFromSecret(secretName: string, value: unknown, fallbackUsername?: string): RedisCredentials {
  if (typeof value === 'string') {
    if (value.length === 0) throw new InvalidSecretShapeError(secretName, undefined, `${SHAPES}; the string is empty`);
    return { username: fallbackUsername, password: value };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidSecretShapeError(secretName, undefined, SHAPES);
  }
  const parsed = objectSchema.safeParse(value);
  if (!parsed.success) {
    const field = String(parsed.error.issues[0]?.path[0] ?? '');
    throw new InvalidSecretShapeError(secretName, field || undefined, EXPECTED[field] ?? SHAPES);
  }
  const { username, password, authToken } = parsed.data;
  if (password !== undefined && authToken !== undefined && password !== authToken) {
    // Which one would the server expect? Guessing wrong is a WRONGPASS storm at the next reconnect.
    throw new InvalidSecretShapeError(secretName, 'authToken', 'only one of "password" and "authToken" (they differ)');
  }
  const secret = password ?? authToken;
  if (secret === undefined) throw new InvalidSecretShapeError(secretName, 'password', `${EXPECTED.password} (${SHAPES})`);
  return { username: username ?? fallbackUsername, password: secret };
}
