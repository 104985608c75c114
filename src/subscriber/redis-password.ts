import { Cluster } from 'ioredis';
import type { RedisClient } from '../redis/connect.js';

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
