import { protocolKeys } from '../../protocol/index.js';
import type { RedisClient } from '../../common/index.js';

/**
 * What the worker did with one event about a secret, kept in `{P}:timeline:<secretArn>` (a list,
 * newest last) so `rotation-relay drill` can show when the event reached the worker. Metadata
 * only, like everything in Redis: never a secret value.
 */
export interface TimelineEntry {
  /** When the worker took the message off the queue (ms, the worker's clock). */
  receivedAt: number;
  /** When it had handled it (published, or found nothing to publish). */
  handledAt: number;
  /** When SQS received the message (`SentTimestamp`), if known. */
  enqueuedAt?: number;
  outcome: 'published' | 'unchanged-version' | 'duplicate-event';
  versionId?: string;
  eventId?: string;
  /** CloudTrail eventName, else the EventBridge detail-type. */
  eventName?: string;
  eventTime?: string;
  /** PUBLISH's receiver count, for `published`. */
  receivers?: number;
}

/** Entries kept per secret (older ones are trimmed) and how long a list outlives its last write. */
export const TIMELINE_MAX_ENTRIES = 100;
export const TIMELINE_TTL_MS = 7 * 24 * 3_600_000;

/** One pipelined write: RPUSH, LTRIM to the last entries, PEXPIRE. */
export async function recordTimeline(redis: RedisClient, keyPrefix: string, secretArn: string, entry: TimelineEntry): Promise<void> {
  const key = protocolKeys(keyPrefix).timeline(secretArn);
  const results = await redis.pipeline().rpush(key, JSON.stringify(entry)).ltrim(key, -TIMELINE_MAX_ENTRIES, -1).pexpire(key, TIMELINE_TTL_MS).exec();
  const failed = results?.find(([error]) => error)?.[0];
  if (failed) throw failed;
}

/** The entries of one secret, oldest first; entries that do not parse are skipped. */
export async function readTimeline(redis: RedisClient, keyPrefix: string, secretArn: string): Promise<TimelineEntry[]> {
  const raw = await redis.lrange(protocolKeys(keyPrefix).timeline(secretArn), 0, -1);
  const entries: TimelineEntry[] = [];
  for (const line of raw) {
    try {
      const parsed = JSON.parse(line) as Partial<TimelineEntry>;
      if (typeof parsed.receivedAt === 'number' && typeof parsed.handledAt === 'number' && typeof parsed.outcome === 'string') entries.push(parsed as TimelineEntry);
    } catch {
      // not ours; skip
    }
  }
  return entries;
}
