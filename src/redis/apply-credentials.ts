import { Cluster, type RedisOptions } from 'ioredis';
import type { RedisCredentials } from './credentials.js';
import type { RedisClient } from '../common/index.js';

// The one way of putting credentials into ioredis, for every connection whose password rotates:
// the rotating ioredis client (sdk/ioredis/redis-client.ts) and the cache's own invalidation listener
// (sdk/cache/invalidation-listener.ts). Next to the one parser (credentials.ts) whose result it writes.

/**
 * What to write. Without a `username` key the user is left as it is (the cache's listener: its
 * user is the one of `redis.url`); with one, `undefined` means the `default` user (`AUTH <password>`).
 */
export type RedisCredentialsUpdate = Pick<RedisCredentials, 'password'> & Partial<Pick<RedisCredentials, 'username'>>;

/** Writes `update` into one options object (a connection's, or a Cluster's node template). */
export function writeRedisCredentials(target: RedisOptions, update: RedisCredentialsUpdate): void {
  target.password = update.password;
  if (!('username' in update)) return;
  if (update.username === undefined) delete target.username;
  else target.username = update.username;
}

/**
 * Puts credentials where ioredis reads them on its *next* (re)connect. ioredis has no password
 * callback, but it rebuilds its AUTH arguments from `options.password`/`options.username` on
 * every connect, so keeping the options current is enough; the live connection is not touched
 * (Redis does not re-check the password of an authenticated connection). A Cluster copies its
 * `redisOptions` into each node connection when it creates it (and the pub/sub subscriber copies
 * a node's options), so both the template and every existing node are updated.
 */
export function applyRedisCredentials(client: RedisClient, update: RedisCredentialsUpdate): void {
  if (client instanceof Cluster) {
    // Mutate, never replace: ioredis' connection pool keeps a reference to this very object and
    // copies it into every node connection it creates later (replacing it would strand new nodes
    // on the password of the day the cluster was created).
    client.options.redisOptions ??= {};
    writeRedisCredentials(client.options.redisOptions, update);
    for (const node of client.nodes('all')) writeRedisCredentials(node.options, update);
    return;
  }
  writeRedisCredentials(client.options, update);
}

/** The password only, the user left as it is: the cache's listener, whose user is the one of `redis.url`. */
export function applyRedisPassword(client: RedisClient, password: string): void {
  applyRedisCredentials(client, { password });
}
