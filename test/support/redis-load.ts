import type { Cluster, Redis } from 'ioredis';
import { startLoadLoop, type LoadLoop } from './load-loop.js';

/**
 * `loops` concurrent SET-then-GET loops on their own keys, each GET checked against the value just
 * written, until `stop()`. A rejected command or a wrong value is a failure (counted, never thrown);
 * one operation is one SET + GET pair.
 */
export function startRedisLoad(client: Redis | Cluster, loops = 3, keyPrefix = 'load'): LoadLoop {
  return startLoadLoop(async (id, i) => {
    const key = `${keyPrefix}:{${id}}:${i % 50}`;
    const value = `${id}-${i}`;
    await client.set(key, value);
    const read = await client.get(key);
    if (read !== value) throw new Error(`GET ${key} returned a different value`);
  }, loops);
}
