import { Cluster } from 'ioredis';
import type { RedisClient } from '../redis/connect.js';

/**
 * The Redis password held by a secret: the `password` or `authToken` field of a JSON secret
 * (ElastiCache RBAC user / AUTH token shapes), or the whole string. Undefined when the secret is a
 * JSON object with neither field — the caller reports that by name.
 *
 * Lenient, and left only for the CLI (src/cli/redis-password.ts, not part of this change): the
 * cache and the rotating ioredis client read Redis secrets with `readRedisSecret`
 * (redis/credentials.ts), which also refuses a `password` and an `authToken` that differ.
 */
export function redisPasswordFrom(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    if (typeof record['password'] === 'string') return record['password'];
    if (typeof record['authToken'] === 'string') return record['authToken'];
  }
  return undefined;
}

/**
 * Puts `password` where ioredis reads it on its *next* (re)connect. ioredis has no password
 * callback, but it rebuilds its AUTH arguments from `options.password` on every connect, so
 * keeping the option current is enough; the live connection is not touched. A Cluster copies its
 * `redisOptions` into each node connection when it creates it (and the pub/sub subscriber copies a
 * node's options), so both the template and every existing node are updated.
 */
export function applyRedisPassword(client: RedisClient, password: string): void {
  if (client instanceof Cluster) {
    // Mutate, never replace: ioredis' connection pool keeps a reference to this very object and
    // copies it into every node connection it creates later.
    client.options.redisOptions ??= {};
    client.options.redisOptions.password = password;
    for (const node of client.nodes('all')) node.options.password = password;
    return;
  }
  client.options.password = password;
}
