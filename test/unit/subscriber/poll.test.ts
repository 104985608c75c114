import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MetricNames, type Metrics } from '../../../src/metrics/index.js';
import { jitteredInterval } from '../../../src/sdk/cache/poll-scheduler.js';
import { harness } from '../../support/cache-harness.js';

describe('jitteredInterval', () => {
  it('stays within interval ± jitter·interval, and covers both ends', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_000, max: 10_000_000 }), fc.double({ min: 0, max: 0.5, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (interval, jitter, r) => {
        const delay = jitteredInterval(interval, jitter, () => r);
        return delay >= Math.floor(interval * (1 - jitter)) && delay <= Math.ceil(interval * (1 + jitter));
      }),
    );
    expect(jitteredInterval(1_800_000, 0.1, () => 0)).toBe(1_620_000);
    expect(jitteredInterval(1_800_000, 0.1, () => 1)).toBe(1_980_000);
    expect(jitteredInterval(1_800_000, 0.1, () => 0.5)).toBe(1_800_000);
  });

  it('spreads a fleet: many draws are not all equal', () => {
    const draws = new Set(Array.from({ length: 50 }, () => jitteredInterval(1_800_000, 0.1)));
    expect(draws.size).toBeGreaterThan(40);
  });
});

describe('the fallback poll', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it.each([
    [0, 9_000],
    [0.5, 10_000],
    [1, 11_000],
  ])('with random()=%s polls exactly %s ms after start, not a millisecond earlier', async (r, due) => {
    vi.spyOn(Math, 'random').mockReturnValue(r);
    const h = harness({ pollIntervalMs: 10_000, pollJitter: 0.1 });
    await h.cache.start();
    expect(h.cache.status().nextPollInMs).toBe(due);

    await vi.advanceTimersByTimeAsync(due - 1);
    expect(h.reads()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.reads()).toBe(2);
    expect(h.sm.calls[1]).toEqual({ SecretId: 'app/db', VersionStage: 'AWSCURRENT' });

    // …and again one interval later: the schedule repeats.
    await vi.advanceTimersByTimeAsync(due - 1);
    expect(h.reads()).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.reads()).toBe(3);
    await h.cache.stop();
  });

  it('defaults to 30 minutes ± 10 %', async () => {
    const h = harness();
    await h.cache.start();
    const status = h.cache.status();
    expect(status.pollIntervalMs).toBe(1_800_000);
    expect(status.nextPollInMs).toBeGreaterThanOrEqual(1_620_000);
    expect(status.nextPollInMs).toBeLessThanOrEqual(1_980_000);
    await h.cache.stop();
  });

  it('counts MissedByEvents when a poll finds a version no invalidation announced within the grace period (60 s default)', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const counted: string[] = [];
    const metrics: Metrics = { count: (name) => void counted.push(String(name)), timing: (name) => void counted.push(String(name)), flush: () => undefined, close: () => undefined };
    const h = harness({ pollIntervalMs: 10_000, metrics });
    const rotations: unknown[] = [];
    h.cache.on('rotated', (event) => rotations.push(event));
    await h.cache.start();
    const next = h.sm.rotate('app/db');

    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.cache.current('db').versionId).toBe(next);

    // The poll may just have beaten an invalidation in flight: nothing is counted during the grace.
    await vi.advanceTimersByTimeAsync(59_999);
    expect(h.cache.status().counts.missedByEvents).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.cache.status().counts.missedByEvents).toBe(1);
    expect(counted).toContain(MetricNames.MissedByEvents);
    expect(counted).toContain(MetricNames.RefreshLatencyMs);
    expect(rotations).toEqual([expect.objectContaining({ name: 'db', versionId: next, trigger: 'poll' })]);
    expect(h.logs.records().some((record) => record['level'] === 'warn' && String(record['msg']).includes('no invalidation announced'))).toBe(true);

    // Polls that find nothing new count nothing.
    await vi.advanceTimersByTimeAsync(120_000);
    expect(h.cache.status().counts.missedByEvents).toBe(1);
    await h.cache.stop();
  });

  it('polls every secret with unref()ed timers', async () => {
    const h = harness({ pollIntervalMs: 10_000 });
    const spy = vi.spyOn(globalThis, 'setTimeout');
    await h.cache.start();
    const pollTimer = spy.mock.results.map((result) => result.value as NodeJS.Timeout).find((timer) => timer && typeof timer.hasRef === 'function');
    expect(pollTimer?.hasRef()).toBe(false);
    await h.cache.stop();
  });
});
