import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import { CredentialCacheConfigError } from '../../../src/sdk/cache/errors.js';
import { RedisTimeoutError } from '../../../src/redis/connect.js';
import { PresenceNotConnectedError, presenceReasonOf } from '../../../src/sdk/cache/presence-failures.js';
import { PresenceWriter, type HeldAck } from '../../../src/sdk/cache/presence.js';
import { captureLogger } from '../../support/log-capture.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
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
    // Prepare: slow, but within the write's bound (a bounded write is the next test's subject)
    const presence = writer({ writeTimeoutMs: 60_000 });
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

  it('logs a failed write once at error level, shows it in status(), and clears it when a write succeeds', async () => {
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
    const failures = logs.records().filter((r) => r['code'] === 'PRESENCE_WRITE_FAILED');
    expect(failures).toHaveLength(1);
    expect(failures[0]?.['level']).toBe('error');
    expect(failing.lastError?.message).toBe('Error (details withheld)');
    expect(failing).toMatchObject({ state: 'failing', reasonCode: 'READONLY', failingSince: new Date(1_000_000).toISOString(), failedWrites: 3 });
    expect(presence.status()).toEqual({
      instanceId: 'web-1:42:abcdef',
      heartbeatIntervalMs: 10_000,
      ttlMs: 30_000,
      state: 'ok',
      failedWrites: 3,
      lastWriteAt: new Date(clock).toISOString(),
    });
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

describe('PresenceWriter: bounded writes and loud failures', () => {
  let redis: PipelineRecorderDouble;
  let metrics: MetricsRecorderDouble;
  const logs = captureLogger({ component: 'presence-failure-test' });
  const held: HeldAck[] = [{ name: 'db', secret: 'prod/db', versionId: 'v1' }];
  // The writer's clock is the fake one, so it moves with the timers.
  const writer = (overrides: Partial<ConstructorParameters<typeof PresenceWriter>[0]> = {}) =>
    presenceWriterOn(redis, { held: () => held, now: () => Date.now(), logger: logs.logger, metrics, ...overrides });
  /** Log records of this test only (the capture is shared by the describe block). */
  let from = 0;
  const records = () => logs.records().slice(from);
  const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

  beforeEach(() => {
    vi.useFakeTimers({ now: 2_000_000 });
    redis = new PipelineRecorderDouble();
    metrics = new MetricsRecorderDouble();
    from = logs.records().length;
  });
  afterEach(() => vi.useRealTimers());

  it('gives up on a write that never gets an answer after the write bound (TIMEOUT), and the next heartbeat writes again', async () => {
    // Prepare: the pipeline of the first write never settles (a connection that lost it)
    const presence = writer({ writeTimeoutMs: 2_000 });
    redis.hold = true;

    // Act
    presence.start();
    await advance(2_000);
    const stuck = presence.status();
    redis.hold = false;
    await advance(8_000); // the next heartbeat

    // Assess
    expect(stuck).toMatchObject({ state: 'failing', reasonCode: 'TIMEOUT', failedWrites: 1 });
    expect(redis.batches).toHaveLength(2);
    expect(presence.status()).toMatchObject({ state: 'ok', lastWriteAt: new Date(2_010_000).toISOString() });
    expect(presence.status().reasonCode).toBeUndefined();
    redis.release();
    await presence.stop();
  });

  it('waits for a connection that is not ready yet, then writes at once with the time it is sent', async () => {
    // Prepare
    const presence = writer();
    redis.goOffline();

    // Act
    presence.start();
    await advance(3_000);
    const waiting = presence.status();
    redis.comeBack();
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(waiting.state).toBe('starting');
    expect(redis.batches).toHaveLength(1);
    const hset: Array<string | number> = redis.batches[0]?.find((c) => c[0] === 'hset') ?? [];
    expect(hset[hset.indexOf('heartbeatAt') + 1]).toBe(String(2_003_000));
    expect(presence.status().state).toBe('ok');
    await presence.stop();
  });

  it('fails a write as CONNECTION when the connection stays down, and writes as soon as it is back, not at the next heartbeat', async () => {
    // Prepare
    const presence = writer({ writeTimeoutMs: 2_000 });
    presence.start();
    await vi.advanceTimersByTimeAsync(0);
    redis.goOffline();

    // Act: the heartbeat at 10 s waits 2 s for the connection, then gives up; it is back at 15 s
    await advance(12_000);
    const down = presence.status();
    await advance(3_000);
    redis.comeBack();
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(down).toMatchObject({ state: 'failing', reasonCode: 'CONNECTION', failedWrites: 1 });
    expect(redis.batches).toHaveLength(2);
    expect(presence.status()).toMatchObject({ state: 'ok', lastWriteAt: new Date(2_015_000).toISOString() });
    await presence.stop();
  });

  it('names NOPERM and the ACL rules presence needs in one error line, counts each failed write, and never logs the server text', async () => {
    // Prepare: the reply of a Redis whose ACL user lacks the presence commands
    const presence = writer();
    redis.fail = new Error("NOPERM User sub-7f3a has no permissions to run the 'zadd' command");

    // Act
    presence.start();
    await advance(30_000);

    // Assess
    const errors = records().filter((r) => r['level'] === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'PRESENCE_WRITE_FAILED', reasonCode: 'NOPERM', instanceId: 'web-1:42:abcdef' });
    expect(String(errors[0]?.['msg'])).toContain(
      '~{rotation-relay}:instances ~{rotation-relay}:instance:* +zadd +hset +hdel +pexpire +zremrangebyscore +zrem +del',
    );
    expect(String(errors[0]?.['msg'])).toContain('docs/protocol.md');
    expect(presence.status()).toMatchObject({ state: 'failing', reasonCode: 'NOPERM', failedWrites: 4 });
    expect(metrics.total('PresenceWriteFailures')).toBe(4);
    expect(JSON.stringify([...records(), presence.status()])).not.toContain('sub-7f3a');
    await presence.stop();
  });

  it('summarises a failure that goes on at most once a minute with the failures since, and says once when it recovers', async () => {
    // Prepare
    const presence = writer();
    redis.fail = new Error('READONLY You cannot write against a read only replica.');

    // Act: 3.5 minutes of failing heartbeats (22 writes), then one that succeeds
    presence.start();
    await advance(210_000);
    redis.fail = undefined;
    await advance(10_000);

    // Assess
    const mine = records();
    expect(mine.filter((r) => r['level'] === 'error')).toHaveLength(1);
    const summaries = mine.filter((r) => r['code'] === 'PRESENCE_WRITE_FAILING');
    expect(summaries.map((r) => r['level'])).toEqual(['warn', 'warn', 'warn']);
    expect(summaries.map((r) => r['failures'])).toEqual([6, 6, 6]);
    expect(summaries.every((r) => r['reasonCode'] === 'READONLY')).toBe(true);
    const recovered = mine.filter((r) => r['code'] === 'PRESENCE_WRITE_RECOVERED');
    expect(recovered).toEqual([expect.objectContaining({ level: 'info', failures: 22, failedForMs: 220_000 })]);
    expect(metrics.total('PresenceWriteFailures')).toBe(22);
    expect(presence.status()).toMatchObject({ state: 'ok', failedWrites: 22 });
    await presence.stop();
  });

  it('logs one error line per reason in a failure, however often a partition alternates between TIMEOUT and CONNECTION', async () => {
    // Prepare
    const presence = writer({ writeTimeoutMs: 2_000 });

    // Act: ten heartbeats, alternately on a connection that never answers and on none
    redis.hold = true; // nothing answers until the end (a release would answer the write in flight)
    presence.start();
    await advance(5_000); // change the connection between heartbeats, not at them
    for (let beat = 0; beat < 10; beat += 1) {
      if (beat % 2 === 0) redis.comeBack();
      else redis.goOffline();
      await advance(10_000);
    }

    // Assess
    const errors = records().filter((r) => r['level'] === 'error');
    expect(errors.map((r) => r['reasonCode'])).toEqual(['TIMEOUT', 'CONNECTION']);
    expect(presence.status().failedWrites).toBeGreaterThanOrEqual(10);
    redis.release();
    await presence.stop();
  });

  it('reports "not-started" before start() and "stopped" after stop()', async () => {
    const presence = writer();
    expect(presence.status().state).toBe('not-started');
    presence.start();
    expect(presence.status().state).toBe('starting');
    await vi.advanceTimersByTimeAsync(0);
    expect(presence.status().state).toBe('ok');
    await presence.stop();
    expect(presence.status().state).toBe('stopped');
  });

  it.each([
    ["NOPERM this user has no permissions to access one of the keys used as arguments", 'NOPERM'],
    ['WRONGPASS invalid username-password pair or user is disabled.', 'AUTH'],
    ['NOAUTH Authentication required.', 'AUTH'],
    ['READONLY You cannot write against a read only replica.', 'READONLY'],
    ['Command timed out', 'TIMEOUT'],
    ["Socket timeout. Expecting data, but didn't receive any in 1000ms.", 'TIMEOUT'],
    ['Connection is closed.', 'CONNECTION'],
    ['OOM command not allowed when used memory > maxmemory.', 'OTHER'],
  ])('classifies the reply %j as %s', (message, reason) => {
    expect(presenceReasonOf(new Error(message))).toBe(reason);
  });

  it('classifies its own bounds and ioredis connection errors by class and code', () => {
    const maxRetries = Object.assign(new Error('Reached the max retries per request limit (which is 3).'), { name: 'MaxRetriesPerRequestError' });
    expect(presenceReasonOf(new RedisTimeoutError('presence write', 1_000))).toBe('TIMEOUT');
    expect(presenceReasonOf(new PresenceNotConnectedError(1_000))).toBe('CONNECTION');
    expect(presenceReasonOf(maxRetries)).toBe('CONNECTION');
    expect(presenceReasonOf(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }))).toBe('CONNECTION');
    expect(presenceReasonOf('not an error')).toBe('OTHER');
  });
});

describe('presence options of CredentialCache', () => {
  const redis = { url: 'redis://127.0.0.1:1', cluster: false, keyPrefix: 'rotation-relay' };
  const secrets = { db: { secretId: 'app/db' } };
  const signingKeys = ['presence-options-test-key-0123456789abcdef'];

  it('is on with the documented defaults when redis is set, off without redis or with presence: false', () => {
    expect(createCredentialCache({ secrets, signingKeys, redis }).status().presence).toEqual({
      instanceId: expect.stringMatching(/^[^:\s]+:\d+:[0-9a-f]{6}$/),
      heartbeatIntervalMs: 10_000,
      ttlMs: 30_000,
      state: 'not-started',
      failedWrites: 0,
    });
    expect(createCredentialCache({ secrets, signingKeys, redis, presence: { instanceId: 'api-7' } }).status().presence?.instanceId).toBe('api-7');
    expect(createCredentialCache({ secrets, signingKeys, redis, presence: false }).status().presence).toBeUndefined();
    expect(() => createCredentialCache({ secrets, presence: {} })).toThrow(/presence needs redis/);
    expect(() => createCredentialCache({ secrets, presence: false })).not.toThrow();
  });

  it.each([
    [{ instanceId: 'has space' }, /presence.instanceId/],
    [{ heartbeatIntervalMs: 0 }, /presence.heartbeatIntervalMs/],
    [{ heartbeatIntervalMs: 5_000, ttlMs: 5_000 }, /presence.ttlMs \(5000\) must be .* greater than presence.heartbeatIntervalMs/],
    [{ ttlMs: 30_000, lastSeenRetentionMs: 1_000 }, /presence.lastSeenRetentionMs \(1000\) must be at least presence.ttlMs/],
  ])('refuses %j', (presence, message) => {
    expect(() => createCredentialCache({ secrets, signingKeys, redis, presence })).toThrow(CredentialCacheConfigError);
    expect(() => createCredentialCache({ secrets, signingKeys, redis, presence })).toThrow(message);
  });
});
