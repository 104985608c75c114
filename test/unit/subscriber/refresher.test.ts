import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveCacheOptions } from '../../../src/sdk/cache/options.js';
import { Refresher, type CacheCounts } from '../../../src/sdk/cache/refresher.js';
import { SecretState, type RefreshRequest } from '../../../src/sdk/cache/secret-state.js';
import type { RotatedEvent } from '../../../src/sdk/cache/types.js';
import { SecretsManagerClientDouble } from '../../support/secrets-manager-client-double.js';

/** A refresher over a fake Secrets Manager, with `app/db` loaded. */
async function setup(consistencyWindowMs = 5_000, missedByEventsGraceMs = 0) {
  const sm = new SecretsManagerClientDouble();
  sm.create('app/db');
  const options = resolveCacheOptions({ secrets: { db: { secretId: 'app/db', json: true } }, consistencyWindowMs, missedByEventsGraceMs });
  const counts: CacheCounts = { refreshes: 0, failures: 0, authRecoveries: 0, missedByEvents: 0, invalidationsReceived: 0, invalidationsRejected: 0 };
  const rotated: RotatedEvent[] = [];
  const refresher = new Refresher({ client: sm.client, options, counts, isRunning: () => true, onRotated: (event) => rotated.push(event) });
  const state = new SecretState('db', { secretId: 'app/db', json: true });
  await refresher.refresh(state, { kind: 'current', trigger: 'start', at: Date.now() });
  sm.calls.length = 0;
  return { sm, refresher, state, rotated, counts };
}

const invalidation = (versionId: string): RefreshRequest => ({ kind: 'version', versionId, ifNotCurrent: 'wait-for-change', trigger: 'invalidation', at: Date.now() });

describe('Refresher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('an invalidation naming the held version fetches nothing', async () => {
    const { sm, refresher, state } = await setup();
    const held = state.held?.versionId ?? '';
    expect(await refresher.refresh(state, invalidation(held))).toEqual({ changed: false });
    expect(sm.calls).toEqual([]);
  });

  it('an invalidation naming a new version fetches exactly that version, once, even while reads are stale', async () => {
    const { sm, refresher, state, rotated } = await setup();
    const previous = state.held?.versionId;
    const next = sm.rotate('app/db', { staleReads: 3 }); // AWSCURRENT reads would still say the old version

    expect(await refresher.refresh(state, invalidation(next))).toEqual({ changed: true });

    expect(sm.calls).toEqual([{ SecretId: 'app/db', VersionId: next }]);
    expect(state.held?.versionId).toBe(next);
    expect(rotated).toEqual([expect.objectContaining({ name: 'db', versionId: next, previousVersionId: previous, trigger: 'invalidation', latencyMs: expect.any(Number) })]);
  });

  it('without a versionId, re-reads AWSCURRENT with short pauses until the version changes', async () => {
    const { sm, refresher, state } = await setup();
    const next = sm.rotate('app/db', { staleReads: 2 });

    const done = refresher.refresh(state, { kind: 'changed', trigger: 'invalidation', at: Date.now() });
    await vi.advanceTimersByTimeAsync(1_000);

    expect(await done).toEqual({ changed: true });
    expect(sm.reads({ stage: 'AWSCURRENT' })).toHaveLength(3);
    expect(state.held?.versionId).toBe(next);
  });

  it('without a versionId, gives up after consistencyWindowMs when nothing changed', async () => {
    const { sm, refresher, state } = await setup(2_000);
    const held = state.held?.versionId;
    let settled = false;
    const done = refresher.refresh(state, { kind: 'changed', trigger: 'invalidation', at: Date.now() }).finally(() => (settled = true));

    await vi.advanceTimersByTimeAsync(1_900);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(settled).toBe(true);
    expect(await done).toEqual({ changed: false });
    expect(state.held?.versionId).toBe(held);
    // 0, 100, 300, 700, 1 200, 1 700, 2 000 ms: short growing pauses, capped at 500 ms.
    expect(sm.calls.length).toBeGreaterThanOrEqual(5);
    expect(sm.calls.length).toBeLessThanOrEqual(8);
  });

  it('never installs a version that is not AWSCURRENT (a replayed or stale invalidation)', async () => {
    const { sm, refresher, state, rotated } = await setup(1_000);
    const old = state.held?.versionId ?? '';
    const next = sm.rotate('app/db');
    await refresher.refresh(state, invalidation(next));
    sm.calls.length = 0;

    // A replay of the previous broadcast names the old (now AWSPREVIOUS) version.
    const done = refresher.refresh(state, invalidation(old));
    await vi.advanceTimersByTimeAsync(1_000);
    await done;

    expect(state.held?.versionId).toBe(next);
    expect(rotated.map((event) => event.versionId)).toEqual([next]);
    expect(sm.calls[0]).toEqual({ SecretId: 'app/db', VersionId: old });
    expect(sm.calls.slice(1).every((call) => call.VersionStage === 'AWSCURRENT')).toBe(true);
  });

  it('a reconcile entry that is behind what we hold costs one extra AWSCURRENT read and rolls nothing back', async () => {
    const { sm, refresher, state } = await setup();
    const old = state.held?.versionId ?? '';
    const next = sm.rotate('app/db');
    await refresher.refresh(state, { kind: 'current', trigger: 'poll', at: Date.now() });
    sm.calls.length = 0;

    await refresher.refresh(state, { kind: 'version', versionId: old, ifNotCurrent: 'read-current', trigger: 'reconcile', at: Date.now() });

    expect(sm.calls).toEqual([
      { SecretId: 'app/db', VersionId: old },
      { SecretId: 'app/db', VersionStage: 'AWSCURRENT' },
    ]);
    expect(state.held?.versionId).toBe(next);
  });

  it('a version request joining a plain read that found the old version runs its own read afterwards', async () => {
    const { sm, refresher, state } = await setup();
    const next = sm.rotate('app/db', { staleReads: 1 });
    const poll = refresher.refresh(state, { kind: 'current', trigger: 'poll', at: Date.now() });
    const push = refresher.refresh(state, invalidation(next));
    await Promise.all([poll, push]);
    expect(sm.calls).toEqual([
      { SecretId: 'app/db', VersionStage: 'AWSCURRENT' },
      { SecretId: 'app/db', VersionId: next },
    ]);
    expect(state.held?.versionId).toBe(next);
  });

  it('does not count MissedByEvents for a poll that finds a version an invalidation announced', async () => {
    const { sm, refresher, state, counts } = await setup();
    const next = sm.rotate('app/db');
    state.announce(next);
    await refresher.refresh(state, { kind: 'current', trigger: 'poll', at: Date.now() });
    expect(counts.missedByEvents).toBe(0);
    const again = sm.rotate('app/db');
    await refresher.refresh(state, { kind: 'current', trigger: 'poll', at: Date.now() });
    expect(state.held?.versionId).toBe(again);
    expect(counts.missedByEvents).toBe(1);
  });

  it('does not count MissedByEvents when the invalidation arrives after the poll, within the grace period', async () => {
    const { sm, refresher, state, counts } = await setup(5_000, 10_000);
    const next = sm.rotate('app/db');
    await refresher.refresh(state, { kind: 'current', trigger: 'poll', at: Date.now() });
    expect(state.held?.versionId).toBe(next);

    await vi.advanceTimersByTimeAsync(2_000);
    state.announce(next); // the worker's invalidation, 2 s late: costs no read (version held)
    expect(await refresher.refresh(state, invalidation(next))).toEqual({ changed: false });
    await vi.advanceTimersByTimeAsync(10_000);

    expect(counts.missedByEvents).toBe(0);
    expect(sm.reads({ versionId: next })).toEqual([]);
  });

  it('close() cancels pending MissedByEvents checks', async () => {
    const { sm, refresher, state, counts } = await setup(5_000, 10_000);
    sm.rotate('app/db');
    await refresher.refresh(state, { kind: 'current', trigger: 'poll', at: Date.now() });
    refresher.close();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(counts.missedByEvents).toBe(0);
  });
});
