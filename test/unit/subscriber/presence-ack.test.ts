import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HeldAck } from '../../../src/subscriber/presence.js';
import { captureLogger } from '../../support/log-capture.js';
import { presenceWriterOn, PipelineRecorderDouble } from '../../support/presence-pipeline-double.js';

describe('presence acks', () => {
  let redis: PipelineRecorderDouble;
  let held: HeldAck[];
  const presence = () => presenceWriterOn(redis, { held: () => held, now: () => Date.now(), logger: captureLogger({ component: 'presence-ack-test' }).logger });
  beforeEach(() => {
    vi.useFakeTimers();
    redis = new PipelineRecorderDouble();
    held = [{ name: 'db', secret: 'prod/db', versionId: 'v1' }];
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
});
