import { z } from 'zod';

// The one parser of a Redis secret, for every connection that authenticates with one: the
// rotating ioredis client (sdk/ioredis/redis-credentials.ts) and the cache's own invalidation
// listener (sdk/cache/redis-password-follower.ts). With a parser each, one secret could be
// accepted by one and refused, or read differently, by the other. It reports what is wrong
// rather than throwing, so each caller keeps its own way of saying so (an error, a warning).

/**
 * What a Redis connection authenticates with. `username` undefined = the `default` user
 * (`AUTH <password>`, ElastiCache AUTH token / `requirepass`).
 */
export interface RedisCredentials {
  username: string | undefined;
  password: string;
}

/** Why a value is not a Redis secret: the field at fault (if one) and what was expected. Never the value. */
export interface RedisSecretProblem {
  field: string | undefined;
  expected: string;
}

/** A Redis secret read: the credentials, or what is wrong with it. */
export type RedisSecretReading = { ok: true; credentials: RedisCredentials } | { ok: false; problem: RedisSecretProblem };

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

function problem(field: string | undefined, expected: string): RedisSecretReading {
  return { ok: false, problem: { field, expected } };
}

/**
 * Reads a secret value as Redis credentials. `fallbackUsername` (from the client options) is
 * used when the secret names no user. Problems name the field, never a value: zod's own
 * messages are not used because some of them quote the input.
 */
export function readRedisSecret(value: unknown, fallbackUsername?: string): RedisSecretReading {
  if (typeof value === 'string') {
    if (value.length === 0) return problem(undefined, `${SHAPES}; the string is empty`);
    return { ok: true, credentials: { username: fallbackUsername, password: value } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return problem(undefined, SHAPES);
  const parsed = objectSchema.safeParse(value);
  if (!parsed.success) {
    const field = String(parsed.error.issues[0]?.path[0] ?? '');
    return problem(field || undefined, EXPECTED[field] ?? SHAPES);
  }
  const { username, password, authToken } = parsed.data;
  if (password !== undefined && authToken !== undefined && password !== authToken) {
    // Which one would the server expect? Guessing wrong is a WRONGPASS storm at the next reconnect.
    return problem('authToken', 'only one of "password" and "authToken" (they differ)');
  }
  const secret = password ?? authToken;
  if (secret === undefined) return problem('password', `${EXPECTED.password} (${SHAPES})`);
  return { ok: true, credentials: { username: username ?? fallbackUsername, password: secret } };
}
