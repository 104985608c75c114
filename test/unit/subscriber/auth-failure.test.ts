import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { serverError } from '../../support/secrets-manager-client-double.js';
import { harness } from '../../support/cache-harness.js';

describe('reportAuthFailure', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reads AWSCURRENT and reports whether the version changed', async () => {
    const h = harness();
    await h.cache.start();
    await vi.advanceTimersByTimeAsync(1_000);
    const next = h.sm.rotate('app/db');

    const result = await h.cache.reportAuthFailure('db');

    expect(result.changed).toBe(true);
    expect(result.current.versionId).toBe(next);
    expect(h.sm.calls.at(-1)).toEqual({ SecretId: 'app/db', VersionStage: 'AWSCURRENT' });
    await h.cache.stop();
  });

  it('rate-limits: within 1 s (default) of the last refresh it returns that result without a read', async () => {
    const h = harness();
    await h.cache.start();
    await vi.advanceTimersByTimeAsync(1_000);
    const next = h.sm.rotate('app/db');
    const first = await h.cache.reportAuthFailure('db');
    const reads = h.reads();

    // A storm of failed logins right after: no read, same answer.
    const storm = await Promise.all(Array.from({ length: 50 }, () => h.cache.reportAuthFailure('db')));
    expect(h.reads()).toBe(reads);
    expect(storm.every((result) => result.changed === first.changed && result.current.versionId === next)).toBe(true);

    await vi.advanceTimersByTimeAsync(999);
    await h.cache.reportAuthFailure('db');
    expect(h.reads()).toBe(reads);

    await vi.advanceTimersByTimeAsync(1);
    const later = await h.cache.reportAuthFailure('db');
    expect(h.reads()).toBe(reads + 1);
    expect(later.changed).toBe(false);
    await h.cache.stop();
  });

  it('honours authFailureMinIntervalMs', async () => {
    const h = harness({ authFailureMinIntervalMs: 5_000 });
    await h.cache.start();
    await vi.advanceTimersByTimeAsync(4_999);
    await h.cache.reportAuthFailure('db');
    expect(h.reads()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await h.cache.reportAuthFailure('db');
    expect(h.reads()).toBe(2);
    await h.cache.stop();
  });

  it('resolves with the last good value when Secrets Manager fails, and the failure shows in status()', async () => {
    const h = harness();
    await h.cache.start();
    const good = h.cache.current('db');
    await vi.advanceTimersByTimeAsync(1_000);
    h.sm.failWith(() => serverError());
    const result = await h.cache.reportAuthFailure('db');
    expect(result).toEqual({ changed: false, current: good });
    expect(h.cache.status().secrets['db']?.failures).toBe(1);
    await h.cache.stop();
  });

  it('recordAuthRecovery counts into status() and the AuthFailureRecoveries metric', async () => {
    const counted: string[] = [];
    const h = harness({ metrics: { count: (name) => void counted.push(String(name)), timing: () => undefined, flush: () => undefined, close: () => undefined } });
    await h.cache.start();
    h.cache.recordAuthRecovery('db');
    expect(h.cache.status().counts.authRecoveries).toBe(1);
    expect(counted).toEqual(['AuthFailureRecoveries']);
    expect(() => h.cache.recordAuthRecovery('nope')).toThrow(/"nope"/);
    await h.cache.stop();
  });
});
