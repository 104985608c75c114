import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RedisClient } from '../../../src/redis/connect.js';
import { PresenceWriter, type HeldAck } from '../../../src/subscriber/presence.js';
import { captureLogger } from '../../support/log-capture.js';

/** A DOUBLE of the ioredis pipeline the presence writer uses: counts the pipelines executed. */
class PipelineCounterDouble {
  executed = 0;
  status = 'ready';

  pipeline() {
    const chain = {
      zadd: () => chain,
      hdel: () => chain,
      hset: () => chain,
      pexpire: () => chain,
      zremrangebyscore: () => chain,
      zrem: () => chain,
      del: () => chain,
      exec: async () => {
        this.executed += 1;
        return [];
      },
    };
    return chain;
  }
}

describe('presence acks', () => {
  let redis: PipelineCounterDouble;
  let held: HeldAck[];
  const presence = () =>
    new PresenceWriter({
      keyPrefix: 'rotation-relay',
      instanceId: 'web-1:42:abcdef',
      heartbeatIntervalMs: 10_000,
      ttlMs: 30_000,
      lastSeenRetentionMs: 3_600_000,
      client: () => redis as unknown as RedisClient,
      held: () => held,
      subscribed: () => true,
      now: () => Date.now(),
      logger: captureLogger({ component: 'presence-ack-test' }).logger,
    });

  beforeEach(() => {
    vi.useFakeTimers();
    redis = new PipelineCounterDouble();
    held = [{ name: 'db', secret: 'prod/db', versionId: 'v1' }];
  });
  afterEach(() => vi.useRealTimers());

  it('acks asked for in one turn of the event loop (a rotation and the end of its refresh) are one write, on the next turn', async () => {
    const writer = presence();
    writer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(redis.executed).toBe(1); // the first heartbeat

    held = [{ name: 'db', secret: 'prod/db', versionId: 'v2' }];
    writer.ack();
    writer.ack();
    writer.ack();
    expect(redis.executed).toBe(1); // nothing written inside the turn that asked

    await vi.advanceTimersByTimeAsync(0);
    expect(redis.executed).toBe(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(redis.executed).toBe(2);
    await writer.stop();
  });

  it('stop() drops an ack not written yet', async () => {
    const writer = presence();
    writer.start();
    await vi.advanceTimersByTimeAsync(0);
    writer.ack();
    await writer.stop();
    const afterStop = redis.executed;
    await vi.advanceTimersByTimeAsync(0);
    expect(redis.executed).toBe(afterStop);
  });
});
