import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { serverError } from '../../support/secrets-manager-client-double.js';
import { harness } from '../../support/cache-harness.js';

describe('pending()', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('returns the AWSPENDING version, reused for the TTL (2 s default) and read again after it', async () => {
    const h = harness();
    await h.cache.start();
    const pendingId = h.sm.putPending('app/db');

    const first = await h.cache.pending<{ password: string }>('db');
    expect(first?.versionId).toBe(pendingId);
    expect(first?.secretArn).toBe(h.sm.arn('app/db'));
    expect(first?.value.password).toMatch(/^pw-/);
    expect(h.sm.reads({ stage: 'AWSPENDING' })).toHaveLength(1);

    await Promise.all(Array.from({ length: 20 }, () => h.cache.pending('db')));
    await vi.advanceTimersByTimeAsync(1_999);
    await h.cache.pending('db');
    expect(h.sm.reads({ stage: 'AWSPENDING' })).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(1);
    await h.cache.pending('db');
    expect(h.sm.reads({ stage: 'AWSPENDING' })).toHaveLength(2);
    await h.cache.stop();
  });

  it('concurrent callers share one read', async () => {
    const h = harness();
    await h.cache.start();
    h.sm.putPending('app/db');
    const results = await Promise.all(Array.from({ length: 30 }, () => h.cache.pending('db')));
    expect(new Set(results.map((result) => result?.versionId)).size).toBe(1);
    expect(h.sm.reads({ stage: 'AWSPENDING' })).toHaveLength(1);
    await h.cache.stop();
  });

  it('is undefined when no version carries AWSPENDING (AWS after finishSecret)', async () => {
    const h = harness();
    await h.cache.start();
    expect(await h.cache.pending('db')).toBeUndefined();
    await h.cache.stop();
  });

  it('is undefined when AWSPENDING sits on the current version (moto after a rotation)', async () => {
    const h = harness({ pendingTtlMs: 10_000 });
    await h.cache.start();
    const pendingId = h.sm.putPending('app/db');
    expect((await h.cache.pending('db'))?.versionId).toBe(pendingId);

    h.sm.moveCurrent('app/db', pendingId, { keepPending: true });
    await h.cache.forceRefresh('db');
    expect(h.cache.current('db').versionId).toBe(pendingId);

    // The cached answer was dropped when AWSCURRENT changed (well within the 10 s TTL).
    expect(await h.cache.pending('db')).toBeUndefined();
    expect(h.sm.reads({ stage: 'AWSPENDING' })).toHaveLength(2);
    await h.cache.stop();
  });

  it('caches a failure for the TTL too, so an outage is not hammered', async () => {
    const h = harness();
    await h.cache.start();
    h.sm.failWith(() => serverError());
    await expect(h.cache.pending('db')).rejects.toMatchObject({ code: 'SECRETS_MANAGER_UNAVAILABLE' });
    await expect(h.cache.pending('db')).rejects.toMatchObject({ code: 'SECRETS_MANAGER_UNAVAILABLE' });
    expect(h.sm.reads({ stage: 'AWSPENDING' })).toHaveLength(1);
    h.sm.failWith(undefined);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await h.cache.pending('db')).toBeUndefined();
    await h.cache.stop();
  });
});
