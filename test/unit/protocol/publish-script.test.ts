import { describe, expect, it } from 'vitest';
import { InvalidInvalidationError, PUBLISH_SCRIPT, PublishError, publishInvalidation } from '../../../src/protocol/index.js';
import { baseInvalidation } from '../../support/protocol-fixtures.js';
import type { RedisClient } from '../../../src/common/redis-client.js';

/**
 * A double of the two ioredis calls the publisher makes, recording them. The script itself is
 * exercised against a real redis-server in test/integration/protocol-publish.test.ts.
 */
function redisDouble(replies: { evalsha: () => unknown; eval?: () => unknown }) {
  const calls: string[] = [];
  const client = {
    evalsha: async (...args: unknown[]) => {
      calls.push(`evalsha ${String(args[1])}`);
      return replies.evalsha();
    },
    eval: async (script: unknown, ...args: unknown[]) => {
      calls.push(`eval ${script === PUBLISH_SCRIPT ? 'PUBLISH_SCRIPT' : 'other'} ${String(args[0])}`);
      return replies.eval?.();
    },
  };
  return { client: client as unknown as RedisClient, calls };
}

describe('publishInvalidation', () => {
  it('sends the script body with EVAL when EVALSHA answers NOSCRIPT', async () => {
    // Prepare
    const redis = redisDouble({
      evalsha: () => {
        throw new Error('NOSCRIPT No matching script. Please use EVAL.');
      },
      eval: () => ['published', 3],
    });

    // Act
    const result = await publishInvalidation(redis.client, 'p', baseInvalidation());

    // Assess
    expect(result).toEqual({ outcome: 'published', receivers: 3 });
    expect(redis.calls).toEqual(['evalsha 3', 'eval PUBLISH_SCRIPT 3']);
  });

  it('rejects with PublishError carrying the cause when Redis fails', async () => {
    // Prepare
    const cause = new Error('Connection is closed.');
    const redis = redisDouble({
      evalsha: () => {
        throw cause;
      },
    });

    // Act
    const act = publishInvalidation(redis.client, 'p', baseInvalidation());

    // Assess
    await expect(act).rejects.toBeInstanceOf(PublishError);
    await expect(act).rejects.toMatchObject({ cause, code: 'PROTOCOL_PUBLISH_FAILED' });
    expect(redis.calls).toEqual(['evalsha 3']);
  });

  it('rejects with PublishError when the script reply is not one it knows', async () => {
    // Prepare
    const redis = redisDouble({ evalsha: () => ['published', 'many'] });

    // Act
    const act = publishInvalidation(redis.client, 'p', baseInvalidation());

    // Assess
    await expect(act).rejects.toBeInstanceOf(PublishError);
  });

  it('rejects without calling Redis when the invalidation is invalid', async () => {
    // Prepare
    const redis = redisDouble({ evalsha: () => ['published', 0] });

    // Act
    const act = publishInvalidation(redis.client, 'p', baseInvalidation({ eventId: '' }));

    // Assess
    await expect(act).rejects.toBeInstanceOf(InvalidInvalidationError);
    expect(redis.calls).toEqual([]);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects without calling Redis when dedupeTtlSeconds is %s', async (ttl) => {
    // Prepare
    const redis = redisDouble({ evalsha: () => ['published', 0] });

    // Act
    const act = publishInvalidation(redis.client, 'p', baseInvalidation(), { dedupeTtlSeconds: ttl });

    // Assess
    await expect(act).rejects.toBeInstanceOf(PublishError);
    expect(redis.calls).toEqual([]);
  });
});
