import { DEFAULT_LAST_SEEN_RETENTION_MS, decodePresence, protocolKeys, type DecodedPresence } from '../../protocol/index.js';
import { FleetReadError } from './errors.js';
import type { RedisClient } from '../../common/index.js';

/** A live instance: its presence hash exists (its TTL has not run out). */
export interface FleetInstance extends DecodedPresence {
  /** Its score in `{P}:instances`: the time of its last write (ms, the instance's clock). */
  lastSeenAt: number;
}

/** An instance still listed in `{P}:instances` whose presence hash expired: it stopped heartbeating. */
export interface StoppedInstance {
  id: string;
  lastSeenAt: number;
}

export interface FleetSnapshot {
  /** The reader's clock when it read (ms). */
  readAt: number;
  /** Sorted by id. */
  live: FleetInstance[];
  /** Most recently seen first. */
  stopped: StoppedInstance[];
}

export interface ReadFleetOptions {
  /** Instances last seen longer ago than this are ignored (writers trim them). @defaultValue 1 h */
  lastSeenRetentionMs?: number;
  /** HGETALLs per pipeline round trip. @defaultValue 500 */
  batchSize?: number;
  now?: () => number;
}

/**
 * Everything `{P}:instances` knows, in 1 + ⌈N / batchSize⌉ round trips: ZRANGEBYSCORE over the
 * retention window, then one pipelined HGETALL per member. Liveness is the existence of the hash
 * (its TTL runs on the Redis server's clock), not the score, so clock skew between hosts cannot
 * make a dead instance look alive or the other way round; the score only says when it was last seen.
 */
export async function readFleet(redis: RedisClient, keyPrefix: string, options: ReadFleetOptions = {}): Promise<FleetSnapshot> {
  const keys = protocolKeys(keyPrefix);
  const now = (options.now ?? Date.now)();
  const retention = options.lastSeenRetentionMs ?? DEFAULT_LAST_SEEN_RETENTION_MS;
  const batchSize = Math.max(1, options.batchSize ?? 500);
  let members: string[];
  try {
    members = await redis.zrangebyscore(keys.instances, now - retention, '+inf', 'WITHSCORES');
  } catch (error) {
    throw new FleetReadError(`reading ${keys.instances} failed: ${message(error)}`, { cause: error });
  }
  const seen: Array<{ id: string; lastSeenAt: number }> = [];
  for (let i = 0; i + 1 < members.length; i += 2) seen.push({ id: members[i] as string, lastSeenAt: Number(members[i + 1]) });

  const live: FleetInstance[] = [];
  const stopped: StoppedInstance[] = [];
  for (let start = 0; start < seen.length; start += batchSize) {
    const batch = seen.slice(start, start + batchSize);
    const pipeline = redis.pipeline();
    for (const { id } of batch) pipeline.hgetall(keys.instance(id));
    let results: Array<[Error | null, unknown]>;
    try {
      results = (await pipeline.exec()) ?? [];
    } catch (error) {
      throw new FleetReadError(`reading the presence hashes failed: ${message(error)}`, { cause: error });
    }
    batch.forEach(({ id, lastSeenAt }, index) => {
      const [error, hash] = results[index] ?? [new Error('no reply'), undefined];
      // A key of the wrong type (or any per-key error) cannot be an instance: treat it as gone.
      if (error || typeof hash !== 'object' || hash === null || Object.keys(hash).length === 0) {
        stopped.push({ id, lastSeenAt });
        return;
      }
      live.push({ ...decodePresence(id, hash as Record<string, string>), lastSeenAt });
    });
  }
  live.sort((a, b) => a.id.localeCompare(b.id));
  stopped.sort((a, b) => b.lastSeenAt - a.lastSeenAt);
  return { readAt: now, live, stopped };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
