import { EventEmitter } from 'node:events';
import { PresenceWriter } from '../../src/sdk/cache/presence.js';
import type { RedisClient } from '../../src/common/redis-client.js';

export type Command = [string, ...Array<string | number>];

/**
 * A DOUBLE of the part of an ioredis client the presence writer uses: pipelines whose commands
 * are recorded, and whose exec resolves when the test says so (or at once); a `status` and the
 * `ready` event of a connection that drops and comes back (`goOffline` / `comeBack`).
 */
export class PipelineRecorderDouble extends EventEmitter {
  readonly batches: Command[][] = [];
  status = 'ready';
  hold = false;
  /** Every command of the next execs fails with this (a server's reply error, a connection error). */
  fail: Error | undefined;
  private readonly waiting: Array<() => void> = [];

  /** The connection dropped: ioredis is in its reconnect backoff. */
  goOffline(): void {
    this.status = 'reconnecting';
  }

  /** The connection is back: status `ready`, and the `ready` event ioredis emits. */
  comeBack(): void {
    this.status = 'ready';
    this.emit('ready');
  }

  pipeline() {
    const batch: Command[] = [];
    const chain = {
      zadd: (...args: Array<string | number>) => (batch.push(['zadd', ...args]), chain),
      hdel: (...args: Array<string | number>) => (batch.push(['hdel', ...args]), chain),
      hset: (...args: Array<string | number>) => (batch.push(['hset', ...args]), chain),
      pexpire: (...args: Array<string | number>) => (batch.push(['pexpire', ...args]), chain),
      zremrangebyscore: (...args: Array<string | number>) => (batch.push(['zremrangebyscore', ...args]), chain),
      zrem: (...args: Array<string | number>) => (batch.push(['zrem', ...args]), chain),
      del: (...args: Array<string | number>) => (batch.push(['del', ...args]), chain),
      exec: async () => {
        this.batches.push(batch);
        if (this.hold) await new Promise<void>((resolve) => this.waiting.push(resolve));
        if (this.fail) return batch.map(() => [this.fail, null]);
        return batch.map(() => [null, 'OK']);
      },
    };
    return chain;
  }

  release(): void {
    this.hold = false;
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

type PresenceWriterOptions = ConstructorParameters<typeof PresenceWriter>[0];

/**
 * A PresenceWriter on `redis` with the unit tests' fixed identity and intervals; `held`, `now`
 * and `logger` (and anything else) come from the test.
 */
export function presenceWriterOn(
  redis: PipelineRecorderDouble,
  options: Pick<PresenceWriterOptions, 'held' | 'now' | 'logger'> & Partial<PresenceWriterOptions>,
): PresenceWriter {
  return new PresenceWriter({
    keyPrefix: 'rotation-relay',
    instanceId: 'web-1:42:abcdef',
    heartbeatIntervalMs: 10_000,
    ttlMs: 30_000,
    lastSeenRetentionMs: 3_600_000,
    client: () => redis as unknown as RedisClient,
    subscribed: () => true,
    ...options,
  });
}
