import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay } from '../../../src/sdk/cache/backoff.js';
import { serverError } from '../../support/secrets-manager-client-double.js';
import { harness } from '../../support/cache-harness.js';

describe('backoffDelay', () => {
  it('always lies within [minMs, maxMs] and within the exponential window of the attempt', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (minMs, extra, attempt, r) => {
          const bounds = { minMs, maxMs: minMs + extra };
          const delay = backoffDelay(attempt, bounds, () => r);
          const window = Math.min(bounds.maxMs, minMs * 2 ** Math.min(attempt, 30));
          return delay >= minMs && delay <= bounds.maxMs && delay <= Math.round(window);
        },
      ),
    );
  });

  it('doubles the window per attempt up to the cap (defaults 1 s … 60 s)', () => {
    const bounds = { minMs: 1_000, maxMs: 60_000 };
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((attempt) => backoffDelay(attempt, bounds, () => 1))).toEqual([
      2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000,
    ]);
    expect(backoffDelay(5, bounds, () => 0)).toBe(1_000);
  });
});

describe('retries after a failed refresh', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('keeps the last good value and retries exactly at the backoff delays, growing to the cap', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1); // the top of every window: deterministic delays
    const h = harness({ backoff: { minMs: 1_000, maxMs: 8_000 } });
    await h.cache.start();
    const good = h.cache.current('db');
    h.sm.failWith(() => serverError());

    await expect(h.cache.forceRefresh('db')).rejects.toMatchObject({ code: 'SECRETS_MANAGER_UNAVAILABLE' });
    expect(h.cache.current('db')).toEqual(good);

    // Retry n comes after min(maxMs, minMs·2^n): 2 s, 4 s, 8 s, 8 s. Just before: no read; at: one read.
    for (const delay of [2_000, 4_000, 8_000, 8_000]) {
      const before = h.reads();
      expect(h.cache.status().secrets['db']?.nextRetryInMs).toBe(delay);
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(h.reads()).toBe(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(h.reads()).toBe(before + 1);
    }
    const status = h.cache.status().secrets['db'];
    expect(status).toMatchObject({ failures: 5, lastError: { code: 'SECRETS_MANAGER_UNAVAILABLE' } });
    expect(status?.lastError?.message).toContain('GetSecretValue for secret app/db failed');

    // Secrets Manager recovers: the next retry succeeds and no further retry is scheduled.
    h.sm.failWith(undefined);
    const rotated = h.sm.rotate('app/db');
    await vi.advanceTimersByTimeAsync(8_000);
    expect(h.cache.current('db').versionId).toBe(rotated);
    expect(h.cache.status().secrets['db']?.nextRetryInMs).toBeUndefined();
    const reads = h.reads();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(h.reads()).toBe(reads);
    await h.cache.stop();
  });

  it('never retries sooner than minMs, whatever the jitter', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const h = harness({ backoff: { minMs: 1_500, maxMs: 60_000 } });
    await h.cache.start();
    h.sm.failWith(() => serverError());
    await h.cache.forceRefresh('db').catch(() => undefined);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const before = h.reads();
      await vi.advanceTimersByTimeAsync(1_499);
      expect(h.reads()).toBe(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(h.reads()).toBe(before + 1);
    }
    await h.cache.stop();
  });

  it('stop() cancels a pending retry', async () => {
    const h = harness();
    await h.cache.start();
    h.sm.failWith(() => serverError());
    await h.cache.forceRefresh('db').catch(() => undefined);
    const reads = h.reads();
    await h.cache.stop();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(h.reads()).toBe(reads);
  });
});
