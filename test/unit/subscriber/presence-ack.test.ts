import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HeldAck } from '../../../src/sdk/cache/presence.js';
import { captureLogger, type CapturedLogger } from '../../support/log-capture.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import { presenceWriterOn, PipelineRecorderDouble, type Command } from '../../support/presence-pipeline-double.js';

describe('presence acks', () => {
  let redis: PipelineRecorderDouble;
  let held: HeldAck[];
  let logs: CapturedLogger;
  let metrics: MetricsRecorderDouble;
  const presence = (writeTimeoutMs?: number) =>
    presenceWriterOn(redis, { held: () => held, now: () => Date.now(), logger: logs.logger, metrics, ...(writeTimeoutMs !== undefined ? { writeTimeoutMs } : {}) });
  const ackIn = (batch: Command[] | undefined) => {
    const hset: Array<string | number> = batch?.find((c) => c[0] === 'hset') ?? [];
    return String(hset[hset.indexOf('ack:prod/db') + 1]).split('@')[0];
  };
  beforeEach(() => {
    vi.useFakeTimers();
    redis = new PipelineRecorderDouble();
    held = [{ name: 'db', secret: 'prod/db', versionId: 'v1' }];
    logs = captureLogger({ component: 'presence-ack-test' });
    metrics = new MetricsRecorderDouble();
  });
  afterEach(() => vi.useRealTimers());

  it('acks asked for in one turn of the event loop (a rotation and the end of its refresh) are one write, on the next turn', async () => {
    const writer = presence();
    writer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(redis.batches.length).toBe(1); // the first heartbeat

    held = [{ name: 'db', secret: 'prod/db', versionId: 'v2' }];
    writer.ack();
    writer.ack();
    writer.ack();
    expect(redis.batches.length).toBe(1); // nothing written inside the turn that asked

    await vi.advanceTimersByTimeAsync(0);
    expect(redis.batches.length).toBe(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(redis.batches.length).toBe(2);
    await writer.stop();
  });

  it('stop() drops an ack not written yet', async () => {
    const writer = presence();
    writer.start();
    await vi.advanceTimersByTimeAsync(0);
    writer.ack();
    await writer.stop();
    const afterStop = redis.batches.length;
    await vi.advanceTimersByTimeAsync(0);
    expect(redis.batches.length).toBe(afterStop);
  });

  it('an ack asked for while a write hangs is written once that write gives up (within the write bound), not never', async () => {
    // Prepare: the first heartbeat's pipeline never gets an answer
    const writer = presence(2_000);
    redis.hold = true;
    writer.start();
    await vi.advanceTimersByTimeAsync(0);

    // Act
    held = [{ name: 'db', secret: 'prod/db', versionId: 'v2' }];
    redis.hold = false;
    writer.ack();
    await vi.advanceTimersByTimeAsync(2_000);

    // Assess
    expect(redis.batches).toHaveLength(2);
    expect(ackIn(redis.batches[1])).toBe('v2');
    expect(writer.status()).toMatchObject({ state: 'ok', failedWrites: 1 });
    redis.release();
    await writer.stop();
  });

  it('a refused ack counts 1 in PresenceWriteFailures and shows failing; the next one that succeeds logs the recovery once', async () => {
    // Prepare
    const writer = presence();
    writer.start();
    await vi.advanceTimersByTimeAsync(0);

    // Act: two acks refused (ACL), then the rights are granted and a third ack goes through
    redis.fail = new Error("NOPERM User app has no permissions to run the 'hset' command");
    held = [{ name: 'db', secret: 'prod/db', versionId: 'v2' }];
    writer.ack();
    await vi.advanceTimersByTimeAsync(0);
    writer.ack();
    await vi.advanceTimersByTimeAsync(0);
    const refused = writer.status();
    redis.fail = undefined;
    writer.ack();
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(refused).toMatchObject({ state: 'failing', reasonCode: 'NOPERM', failedWrites: 2 });
    expect(metrics.recorded).toEqual([
      { kind: 'count', name: 'PresenceWriteFailures', value: 1 },
      { kind: 'count', name: 'PresenceWriteFailures', value: 1 },
    ]);
    expect(ackIn(redis.batches.at(-1))).toBe('v2');
    expect(writer.status().state).toBe('ok');
    const records = logs.records();
    expect(records.filter((r) => r['level'] === 'error').map((r) => r['reasonCode'])).toEqual(['NOPERM']);
    expect(records.filter((r) => r['code'] === 'PRESENCE_WRITE_RECOVERED')).toEqual([expect.objectContaining({ level: 'info', failures: 2 })]);
    await writer.stop();
  });
});
