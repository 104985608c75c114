import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveCacheOptions } from '../../../src/sdk/cache/options.js';
import { readPending } from '../../../src/sdk/cache/pending.js';
import { Refresher, type CacheCounts } from '../../../src/sdk/cache/refresher.js';
import { SecretState, type RefreshRequest } from '../../../src/sdk/cache/secret-state.js';
import type { RotatedEvent } from '../../../src/sdk/cache/types.js';
import { SecretsManagerClientDouble } from '../../support/secrets-manager-client-double.js';

/**
 * A single-user rotation seen by one instance: a client's login fails at setSecret, the cache
 * reads AWSCURRENT (still the old version) and AWSPENDING (the new one, which works); then
 * finishSecret moves AWSCURRENT and the invalidation names that same version.
 */
async function setup() {
  const sm = new SecretsManagerClientDouble();
  sm.create('app/db');
  const options = resolveCacheOptions({ secrets: { db: { secretId: 'app/db', json: true } }, consistencyWindowMs: 300 });
  const counts: CacheCounts = { refreshes: 0, failures: 0, authRecoveries: 0, missedByEvents: 0, invalidationsReceived: 0, invalidationsRejected: 0 };
  const rotated: RotatedEvent[] = [];
  const refresher = new Refresher({ client: sm.client, options, counts, isRunning: () => true, onRotated: (event) => rotated.push(event) });
  const state = new SecretState('db', { secretId: 'app/db', json: true });
  await refresher.refresh(state, { kind: 'current', trigger: 'start', at: Date.now() });
  const old = state.held?.versionId ?? '';
  sm.calls.length = 0;

  /** The client's failed login: AWSCURRENT, then AWSPENDING. Returns when the pending read was sent. */
  const authFailure = async (): Promise<number> => {
    await refresher.refresh(state, { kind: 'current', trigger: 'auth-failure', at: Date.now() });
    const sentAt = Date.now();
    await readPending(state, refresher, () => Date.now(), options.pendingTtlMs);
    return sentAt;
  };
  const broadcast = (versionId: string, confirmedAt?: number): RefreshRequest => ({
    kind: 'version',
    versionId,
    ifNotCurrent: 'wait-for-change',
    trigger: 'invalidation',
    at: Date.now(),
    ...(confirmedAt !== undefined ? { confirmedAt } : {}),
  });
  return { sm, refresher, state, rotated, old, authFailure, broadcast };
}

describe('adopting the AWSPENDING version already read', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a signed broadcast published after the AWSPENDING read installs it without a third read', async () => {
    const { sm, refresher, state, rotated, old, authFailure, broadcast } = await setup();
    const next = sm.putPending('app/db');
    await authFailure();
    expect(state.held?.versionId).toBe(old);
    await vi.advanceTimersByTimeAsync(1_500); // finishSecret, the event, the worker
    sm.moveCurrent('app/db', next);

    expect(await refresher.refresh(state, broadcast(next, Date.now()))).toEqual({ changed: true });

    expect(sm.calls).toEqual([
      { SecretId: 'app/db', VersionStage: 'AWSCURRENT' },
      { SecretId: 'app/db', VersionStage: 'AWSPENDING' },
    ]);
    expect(state.held?.versionId).toBe(next);
    expect(state.held?.source).toBe('secrets-manager');
    expect(state.current().value).toEqual(JSON.parse(sm.values.at(-1) ?? '{}'));
    expect(rotated).toEqual([expect.objectContaining({ versionId: next, previousVersionId: old, trigger: 'invalidation' })]);
    // The answer is forgotten once AWSCURRENT moved (as after any adoption).
    expect(state.pending).toBeUndefined();
  });

  it('an unsigned broadcast (nothing proves the worker confirmed it) reads the version as before', async () => {
    const { sm, refresher, state, authFailure, broadcast } = await setup();
    const next = sm.putPending('app/db');
    await authFailure();
    sm.moveCurrent('app/db', next);

    await refresher.refresh(state, broadcast(next));

    expect(sm.reads({ versionId: next })).toHaveLength(1);
    expect(state.held?.versionId).toBe(next);
  });

  it('a replayed broadcast published before the AWSPENDING read is never taken from it: a deprecated version stays out', async () => {
    const { sm, refresher, state, rotated, old, authFailure, broadcast } = await setup();
    const publishedEarlier = Date.now();
    const abandoned = sm.putPending('app/db');
    await vi.advanceTimersByTimeAsync(1_000);
    await authFailure();
    // The rotation is abandoned and its version deprecated: no label at all.
    sm.setStages('app/db', abandoned, []);
    sm.calls.length = 0;

    const done = refresher.refresh(state, broadcast(abandoned, publishedEarlier));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await done).toEqual({ changed: false });

    expect(sm.calls[0]).toEqual({ SecretId: 'app/db', VersionId: abandoned });
    expect(sm.calls.slice(1).every((call) => call.VersionStage === 'AWSCURRENT')).toBe(true);
    expect(state.held?.versionId).toBe(old);
    expect(rotated).toEqual([]);
  });

  it('a version that was current before (AWSPREVIOUS) and carries AWSPENDING again is read, not taken from the pending read', async () => {
    const { sm, refresher, state, old, broadcast } = await setup();
    // Current once, rolled back, and AWSPENDING moved onto it by hand.
    const once = sm.rotate('app/db');
    sm.moveCurrent('app/db', old);
    sm.setStages('app/db', once, ['AWSPREVIOUS', 'AWSPENDING']);
    await readPending(state, refresher, () => Date.now(), 2_000);
    await vi.advanceTimersByTimeAsync(1_000);
    sm.calls.length = 0;

    const done = refresher.refresh(state, broadcast(once, Date.now()));
    await vi.advanceTimersByTimeAsync(1_000);
    await done;

    expect(sm.calls[0]).toEqual({ SecretId: 'app/db', VersionId: once });
    expect(state.held?.versionId).toBe(old);
  });

  it('a broadcast naming another version than the one read as AWSPENDING reads its own version', async () => {
    const { sm, refresher, state, authFailure, broadcast } = await setup();
    sm.putPending('app/db');
    await authFailure();
    const other = sm.rotate('app/db'); // that rotation was superseded by another one
    await vi.advanceTimersByTimeAsync(100);
    sm.calls.length = 0;

    await refresher.refresh(state, broadcast(other, Date.now()));

    expect(sm.calls).toEqual([{ SecretId: 'app/db', VersionId: other }]);
    expect(state.held?.versionId).toBe(other);
  });

  it('concurrent broadcasts naming the AWSPENDING version share one adoption and read nothing', async () => {
    const { sm, refresher, state, rotated, authFailure, broadcast } = await setup();
    const next = sm.putPending('app/db');
    await authFailure();
    await vi.advanceTimersByTimeAsync(10);
    sm.moveCurrent('app/db', next);
    sm.calls.length = 0;

    const request = broadcast(next, Date.now());
    await Promise.all(Array.from({ length: 10 }, () => refresher.refresh(state, request)));

    expect(sm.calls).toEqual([]);
    expect(rotated.map((event) => event.versionId)).toEqual([next]);
  });
});
