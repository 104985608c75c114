import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCredentialCache } from '../../../src/subscriber/credential-cache.js';
import { CredentialCacheConfigError } from '../../../src/subscriber/errors.js';
import { PresenceWriter, type HeldAck } from '../../../src/subscriber/presence.js';
import { captureLogger } from '../../support/log-capture.js';
import { presenceWriterOn, PipelineRecorderDouble, type Command } from '../../support/presence-pipeline-double.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';

describe('PresenceWriter', () => {
  let redis: PipelineRecorderDouble;
  let held: HeldAck[];
  let clock: number;
  const logs = captureLogger({ component: 'presence-test' });

  const writer = (overrides: Partial<ConstructorParameters<typeof PresenceWriter>[0]> = {}) =>
    presenceWriterOn(redis, { held: () => held, now: () => clock, logger: logs.logger, ...overrides });
  const field = (batch: Command[] | undefined, name: string) => {
    const hset: Array<string | number> = batch?.find((c) => c[0] === 'hset') ?? [];
    const index = hset.indexOf(name);
    return index > 0 ? hset[index + 1] : undefined;
  };

  beforeEach(() => {
    vi.useFakeTimers();
    redis = new PipelineRecorderDouble();
    held = [{ name: 'db', secret: 'prod/db', versionId: 'v1' }];
    clock = 1_000_000;
  });
  afterEach(() => vi.useRealTimers());

  it('writes ZADD, HSET, PEXPIRE and the retention trim on every heartbeat; an ack skips the trim', async () => {
    // Prepare
    const presence = writer();

    // Act
    presence.start();
    await vi.advanceTimersByTimeAsync(0);
    clock += 10_000;
    await vi.advanceTimersByTimeAsync(10_000);
    presence.ack();
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(redis.batches).toHaveLength(3);
    expect(redis.batches[0]?.map((c) => c[0])).toEqual(['zadd', 'hset', 'pexpire', 'zremrangebyscore']);
    expect(redis.batches[0]?.[0]).toEqual(['zadd', '{rotation-relay}:instances', 1_000_000, 'web-1:42:abcdef']);
    expect(redis.batches[0]?.[2]).toEqual(['pexpire', '{rotation-relay}:instance:web-1:42:abcdef', 30_000]);
    expect(redis.batches[0]?.[3]).toEqual(['zremrangebyscore', '{rotation-relay}:instances', '-inf', `(${1_000_000 - 3_600_000}`]);
    expect(redis.batches[2]?.map((c) => c[0])).toEqual(['zadd', 'hset', 'pexpire']);
    expect(field(redis.batches[0], 'ack:prod/db')).toBe('v1@1000000');
    expect(field(redis.batches[1], 'heartbeatAt')).toBe('1010000');
    await presence.stop();
  });

  it('keeps ackedAt while the version stays, moves it with a new version, and deletes the field a name left for its ARN', async () => {
    // Prepare
    const presence = writer();
    presence.start();
    await vi.advanceTimersByTimeAsync(0);

    // Act
    clock += 5_000;
    held = [{ name: 'db', secret: ARN, versionId: 'v1' }];
    presence.ack();
    await vi.advanceTimersByTimeAsync(0);
    clock += 5_000;
    held = [{ name: 'db', secret: ARN, versionId: 'v2' }];
    presence.ack();
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(redis.batches[1]?.find((c) => c[0] === 'hdel')).toEqual(['hdel', '{rotation-relay}:instance:web-1:42:abcdef', 'ack:prod/db']);
    expect(field(redis.batches[1], `ack:${ARN}`)).toBe('v1@1000000');
    expect(field(redis.batches[2], `ack:${ARN}`)).toBe('v2@1010000');
    expect(redis.batches[2]?.some((c) => c[0] === 'hdel')).toBe(false);
    await presence.stop();
  });

  it('never overlaps writes: requests during a slow write become one write after it', async () => {
    // Prepare
    const presence = writer();
    redis.hold = true;
    presence.start();
    await vi.advanceTimersByTimeAsync(0);

    // Act
    for (let i = 0; i < 5; i += 1) presence.ack();
    await vi.advanceTimersByTimeAsync(25_000); // two heartbeats while stuck, too
    const whileStuck = redis.batches.length;
    redis.release();
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(whileStuck).toBe(1);
    expect(redis.batches).toHaveLength(2);
    // A heartbeat was among the coalesced requests: the follow-up trims.
    expect(redis.batches[1]?.at(-1)?.[0]).toBe('zremrangebyscore');
    await presence.stop();
  });

  it('logs a failed write once per distinct error, shows it in status(), and clears it when a write succeeds', async () => {
    // Prepare
    const presence = writer();
    redis.fail = new Error('READONLY You cannot write against a read only replica.');

    // Act
    presence.start();
    await vi.advanceTimersByTimeAsync(20_000);
    const failing = presence.status();
    redis.fail = undefined;
    await vi.advanceTimersByTimeAsync(10_000);

    // Assess
    const warns = logs.records().filter((r) => r['code'] === 'PRESENCE_WRITE_FAILED' && r['level'] === 'warn');
    expect(warns).toHaveLength(1);
    expect(failing.lastError?.message).toBe('Error (details withheld)');
    expect(presence.status()).toEqual({ instanceId: 'web-1:42:abcdef', heartbeatIntervalMs: 10_000, ttlMs: 30_000, lastWriteAt: new Date(clock).toISOString() });
    await presence.stop();
  });

  it('deregisters on stop (ZREM + DEL) and writes nothing afterwards', async () => {
    // Prepare
    const presence = writer();
    presence.start();
    await vi.advanceTimersByTimeAsync(0);

    // Act
    await presence.stop();
    presence.ack();
    await vi.advanceTimersByTimeAsync(60_000);

    // Assess
    expect(redis.batches.at(-1)).toEqual([
      ['zrem', '{rotation-relay}:instances', 'web-1:42:abcdef'],
      ['del', '{rotation-relay}:instance:web-1:42:abcdef'],
    ]);
    expect(redis.batches).toHaveLength(2);
  });
});

describe('presence options of CredentialCache', () => {
  const redis = { url: 'redis://127.0.0.1:1', cluster: false, keyPrefix: 'rotation-relay' };
  const secrets = { db: { secretId: 'app/db' } };

  it('is on with the documented defaults when redis is set, off without redis or with presence: false', () => {
    expect(createCredentialCache({ secrets, redis }).status().presence).toEqual({
      instanceId: expect.stringMatching(/^[^:\s]+:\d+:[0-9a-f]{6}$/),
      heartbeatIntervalMs: 10_000,
      ttlMs: 30_000,
    });
    expect(createCredentialCache({ secrets, redis, presence: { instanceId: 'api-7' } }).status().presence?.instanceId).toBe('api-7');
    expect(createCredentialCache({ secrets, redis, presence: false }).status().presence).toBeUndefined();
    expect(() => createCredentialCache({ secrets, presence: {} })).toThrow(/presence needs redis/);
    expect(() => createCredentialCache({ secrets, presence: false })).not.toThrow();
  });

  it.each([
    [{ instanceId: 'has space' }, /presence.instanceId/],
    [{ heartbeatIntervalMs: 0 }, /presence.heartbeatIntervalMs/],
    [{ heartbeatIntervalMs: 5_000, ttlMs: 5_000 }, /presence.ttlMs \(5000\) must be .* greater than presence.heartbeatIntervalMs/],
    [{ ttlMs: 30_000, lastSeenRetentionMs: 1_000 }, /presence.lastSeenRetentionMs \(1000\) must be at least presence.ttlMs/],
  ])('refuses %j', (presence, message) => {
    expect(() => createCredentialCache({ secrets, redis, presence })).toThrow(CredentialCacheConfigError);
    expect(() => createCredentialCache({ secrets, redis, presence })).toThrow(message);
  });
});
