import { describe, expect, it } from 'vitest';
import { resolveCacheOptions } from '../../../src/sdk/cache/options.js';
import { RecentMemory } from '../../../src/sdk/cache/recent-memory.js';
import { RefreshBudget } from '../../../src/sdk/cache/refresh-budget.js';
import { mergeRequests } from '../../../src/sdk/cache/waiting-refresh.js';
import type { RefreshRequest } from '../../../src/sdk/cache/secret-state.js';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('RefreshBudget', () => {
  it('starts full: `burst` reads at once, then one per refill interval', () => {
    const time = clock();
    const budget = new RefreshBudget(3, 500, time.now);
    expect([budget.take(), budget.take(), budget.take()]).toEqual([0, 0, 0]);
    expect(budget.take()).toBe(500);
    time.advance(200);
    expect(budget.take()).toBe(300); // the fraction refilled meanwhile counts
    time.advance(300);
    expect(budget.take()).toBe(0);
    expect(budget.take()).toBe(500);
  });

  it('never holds more than `burst`, however long it was idle', () => {
    const time = clock();
    const budget = new RefreshBudget(2, 100, time.now);
    time.advance(60_000);
    expect(budget.tokens).toBe(2);
    expect([budget.take(), budget.take(), budget.take()]).toEqual([0, 0, 100]);
  });

  it('spaces refreshes one refill interval apart, so a flood cannot spend the burst in its first milliseconds', () => {
    const time = clock();
    const budget = new RefreshBudget(3, 500, time.now);
    expect(budget.startRefresh()).toBe(0);
    time.advance(10);
    expect(budget.startRefresh()).toBe(490);
    // Reads inside the refresh that started still have the burst.
    expect([budget.take(), budget.take()]).toEqual([0, 0]);
    time.advance(490);
    expect(budget.startRefresh()).toBe(0);
  });

  it('a refresh that found a new version gives its token back and lifts the spacing: back-to-back rotations are never held back', () => {
    const time = clock();
    const budget = new RefreshBudget(3, 500, time.now);
    for (let rotation = 0; rotation < 10; rotation += 1) {
      expect(budget.startRefresh()).toBe(0);
      budget.sawChange();
      time.advance(50);
    }
    expect(budget.tokens).toBe(3);
    // A wasted refresh (nothing new) keeps its token and the spacing.
    expect(budget.startRefresh()).toBe(0);
    time.advance(10);
    expect(budget.startRefresh()).toBe(490);
  });

  it('a refresh waits for a token too, and a clock that went backwards holds nothing back for longer than one interval', () => {
    const time = clock();
    const budget = new RefreshBudget(1, 500, time.now);
    expect(budget.startRefresh()).toBe(0);
    time.advance(500);
    expect(budget.take()).toBe(0); // the token of the next refresh, spent by a read
    expect(budget.startRefresh()).toBe(500);
    time.advance(-10_000);
    expect(budget.startRefresh()).toBeLessThanOrEqual(500);
  });
});

describe('RecentMemory', () => {
  it('forgets an entry after its TTL', () => {
    const time = clock();
    const memory = new RecentMemory<number>(10, 1_000, time.now);
    memory.remember('a', 1);
    time.advance(999);
    expect(memory.get('a')).toBe(1);
    time.advance(1);
    expect(memory.get('a')).toBeUndefined();
    expect(memory.size).toBe(0);
  });

  it('holds at most `capacity` entries: the one remembered longest ago goes first', () => {
    const time = clock();
    const memory = new RecentMemory<true>(3, 60_000, time.now);
    for (const key of ['a', 'b', 'c']) memory.remember(key, true);
    memory.remember('a', true); // remembered again: now the newest
    memory.remember('d', true);
    expect(['a', 'b', 'c', 'd'].filter((key) => memory.has(key))).toEqual(['a', 'c', 'd']);
    for (let i = 0; i < 10_000; i += 1) memory.remember(`flood-${i}`, true);
    expect(memory.size).toBe(3);
  });

  it('remembers nothing with a TTL or a capacity of 0', () => {
    const noTtl = new RecentMemory<true>(3, 0);
    noTtl.remember('a', true);
    expect(noTtl.has('a')).toBe(false);
    const noRoom = new RecentMemory<true>(0, 1_000);
    noRoom.remember('a', true);
    expect(noRoom.size).toBe(0);
  });
});

describe('mergeRequests: the newest waiting request wins without losing what an older one needed', () => {
  const at = 1_000;
  const version = (versionId: string, extra: Partial<Extract<RefreshRequest, { kind: 'version' }>> = {}): RefreshRequest => ({
    kind: 'version',
    versionId,
    ifNotCurrent: 'wait-for-change',
    trigger: 'invalidation',
    at,
    ...extra,
  });

  it('the same version twice is one request, keeping the signed confirmation and the wait for a change', () => {
    expect(mergeRequests(version('v1', { confirmedAt: 5 }), version('v1', { ifNotCurrent: 'read-current', trigger: 'reconcile', at: at + 1 }))).toEqual({
      kind: 'version',
      versionId: 'v1',
      ifNotCurrent: 'wait-for-change',
      confirmedAt: 5,
      trigger: 'reconcile',
      at,
    });
  });

  it('two different versions become one AWSCURRENT read, and stay one when more versions follow', () => {
    const merged = mergeRequests(version('v1'), version('v2', { at: at + 5 }));
    expect(merged).toEqual({ kind: 'current', trigger: 'invalidation', at });
    expect(mergeRequests(merged, version('v3'))).toEqual({ kind: 'current', trigger: 'invalidation', at });
  });

  it('a request waiting for a change keeps that need: a version read by id, then AWSCURRENT until it moves', () => {
    const changed: RefreshRequest = { kind: 'changed', trigger: 'invalidation', at: at + 1 };
    const untilChanged = { ...version('v1'), ifNotCurrent: 'until-changed' };
    expect(mergeRequests(version('v1'), changed)).toEqual(untilChanged);
    expect(mergeRequests(changed, version('v1'))).toEqual(untilChanged);
    expect(mergeRequests(untilChanged as RefreshRequest, version('v2'))).toEqual({ kind: 'changed', trigger: 'invalidation', at });
    expect(mergeRequests(changed, { kind: 'current', trigger: 'poll', at })).toEqual({ kind: 'changed', trigger: 'poll', at });
    expect(mergeRequests(mergeRequests(version('v1'), version('v2')), changed)).toEqual({ kind: 'changed', trigger: 'invalidation', at });
  });

  it('a plain read of a trigger that bypasses the budget keeps a named version, and is the trigger reported', () => {
    const authFailure: RefreshRequest = { kind: 'current', trigger: 'auth-failure', at: at - 10 };
    expect(mergeRequests(authFailure, version('v1'))).toEqual({ ...version('v1'), trigger: 'auth-failure', at: at - 10 });
    expect(mergeRequests(version('v1'), authFailure)).toEqual({ ...version('v1'), trigger: 'auth-failure', at: at - 10 });
  });
});

describe('refreshBudget options', () => {
  const base = { secrets: { db: { secretId: 'app/db' } } };

  it('defaults to a burst of 3, one read per 500 ms, versions remembered 5 minutes', () => {
    expect(resolveCacheOptions(base).refreshBudget).toEqual({ burst: 3, refillIntervalMs: 500, rememberVersionsMs: 300_000 });
    expect(resolveCacheOptions({ ...base, refreshBudget: { burst: 1 } }).refreshBudget).toEqual({ burst: 1, refillIntervalMs: 500, rememberVersionsMs: 300_000 });
  });

  it.each([
    [{ burst: 0 }, /refreshBudget\.burst must be a whole number >= 1, got 0/],
    [{ burst: 1.5 }, /refreshBudget\.burst/],
    [{ refillIntervalMs: 0 }, /refreshBudget\.refillIntervalMs must be a positive number/],
    [{ rememberVersionsMs: -1 }, /refreshBudget\.rememberVersionsMs must be a finite number >= 0/],
  ])('refuses %j, naming the option', (refreshBudget, message) => {
    expect(() => resolveCacheOptions({ ...base, refreshBudget })).toThrow(message);
  });
});
