import { randomUUID } from 'node:crypto';
import { ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MetricNames } from '../../../src/metrics/index.js';
import { CacheStoppedError } from '../../../src/sdk/cache/errors.js';
import { refreshLimitsFrom, resolveCacheOptions } from '../../../src/sdk/cache/options.js';
import { Refresher, type CacheCounts } from '../../../src/sdk/cache/refresher.js';
import { SecretState, type RefreshRequest } from '../../../src/sdk/cache/secret-state.js';
import type { CredentialCacheOptions, RotatedEvent } from '../../../src/sdk/cache/types.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import { captureLogger } from '../../support/log-capture.js';
import { SecretsManagerClientDouble } from '../../support/secrets-manager-client-double.js';

/** What AWS (and moto) answer for a VersionId the secret does not have. */
function versionMissing(versionId: string): Error {
  return new ResourceNotFoundException({ message: `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`, $metadata: { httpStatusCode: 400 } });
}

/** A refresher over a fake Secrets Manager with `app/db` loaded, and the cache's per-secret limits. */
async function setup(overrides: Partial<CredentialCacheOptions> = {}) {
  const sm = new SecretsManagerClientDouble();
  sm.create('app/db');
  // Versions the fake does not hold answer as AWS does: version missing, secret fine.
  const known = new Set<string>();
  sm.failWith((input) => (input.VersionId !== undefined && !known.has(input.VersionId) ? versionMissing(input.VersionId) : undefined));
  const metrics = new MetricsRecorderDouble();
  const logs = captureLogger({ component: 'bounded-refresh' });
  // refreshStartQuietMs 0: submitted refreshes start on the next turn, as `settle` expects. The
  // start gate in front of them has its own suite (start-gate.test.ts); this one is what follows it.
  const options = resolveCacheOptions({ secrets: { db: { secretId: 'app/db', json: true } }, consistencyWindowMs: 2_000, refreshStartQuietMs: 0, metrics, logger: logs.logger, ...overrides });
  const counts: CacheCounts = { refreshes: 0, failures: 0, authRecoveries: 0, missedByEvents: 0, invalidationsReceived: 0, invalidationsRejected: 0, refreshesThrottled: 0 };
  const rotated: RotatedEvent[] = [];
  let running = true;
  const refresher = new Refresher({ client: sm.client, options, counts, isRunning: () => running, onRotated: (event) => rotated.push(event) });
  const state = new SecretState('db', { secretId: 'app/db', json: true }, refreshLimitsFrom(options));
  await refresher.refresh(state, { kind: 'current', trigger: 'start', at: Date.now() });
  sm.calls.length = 0;
  const rotate = (options: { staleReads?: number } = {}): string => {
    const versionId = sm.rotate('app/db', options);
    known.add(versionId);
    return versionId;
  };
  for (const version of [state.held?.versionId ?? '']) known.add(version);
  const stop = (): void => {
    running = false;
    state.slot.clear(new CacheStoppedError());
  };
  return { sm, refresher, state, counts, metrics, logs, rotated, rotate, stop };
}

const invalidation = (versionId: string): RefreshRequest => ({ kind: 'version', versionId, ifNotCurrent: 'wait-for-change', trigger: 'invalidation', at: Date.now() });
/** Lets `setImmediate` callbacks and the fake Secrets Manager's promises run, without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('bounded refresh work per secret', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('10,000 invalidations with random versions cost one read per refill interval, and a genuine rotation among them is in place at the next one', async () => {
    const { sm, refresher, state, counts, metrics, rotated, rotate } = await setup();
    for (let i = 0; i < 5_000; i += 1) refresher.submit(state, invalidation(randomUUID()));
    await settle();
    // The first turn of the event loop merged everything so far into one AWSCURRENT read.
    expect(sm.calls).toEqual([{ SecretId: 'app/db', VersionStage: 'AWSCURRENT' }]);

    const genuine = rotate();
    refresher.submit(state, invalidation(genuine));
    for (let i = 0; i < 5_000; i += 1) refresher.submit(state, invalidation(randomUUID()));
    await settle();
    expect(sm.calls).toHaveLength(1); // waiting for the budget: not dropped, not queued one by one
    expect(counts.refreshesThrottled).toBe(1);
    expect(metrics.total(MetricNames.RefreshesThrottled)).toBe(1);

    await vi.advanceTimersByTimeAsync(500);
    expect(sm.calls).toEqual([
      { SecretId: 'app/db', VersionStage: 'AWSCURRENT' },
      { SecretId: 'app/db', VersionStage: 'AWSCURRENT' },
    ]);
    expect(state.held?.versionId).toBe(genuine);
    expect(rotated.map((event) => event.versionId)).toEqual([genuine]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sm.calls).toHaveLength(2);
    expect(counts.failures).toBe(0);
  });

  it('a request arriving while a read is in flight waits, merged with later ones, and starts when it settles', async () => {
    const { sm, refresher, state, rotate } = await setup({ refreshBudget: { refillIntervalMs: 1 } });
    const genuine = rotate();
    const poll = refresher.refresh(state, { kind: 'current', trigger: 'poll', at: Date.now() });
    refresher.submit(state, invalidation(genuine));
    refresher.submit(state, invalidation(genuine));
    await poll;
    await vi.advanceTimersByTimeAsync(10);
    // The poll already found the version the invalidations named: they cost nothing.
    expect(sm.calls).toEqual([{ SecretId: 'app/db', VersionStage: 'AWSCURRENT' }]);
    expect(state.held?.versionId).toBe(genuine);
  });

  it('a missing version is no failure: remembered, one AWSCURRENT read; a message published before that costs nothing, one published after is read', async () => {
    const { sm, refresher, state, counts } = await setup();
    const forged = randomUUID();
    const publishedBefore = Date.now() - 60_000;

    refresher.submit(state, invalidation(forged));
    await settle();
    expect(sm.calls).toEqual([
      { SecretId: 'app/db', VersionId: forged },
      { SecretId: 'app/db', VersionStage: 'AWSCURRENT' },
    ]);
    expect(counts.failures).toBe(0);
    expect(state.retry).toBeUndefined();
    expect(state.knownNotCurrent(forged, publishedBefore)).toBe(true);
    // Published after the read (with the clock-skew tolerance to spare): could announce a roll-back onto it.
    expect(state.knownNotCurrent(forged, Date.now())).toBe(false);
    expect(state.knownNotCurrent(randomUUID(), publishedBefore)).toBe(false);

    await vi.advanceTimersByTimeAsync(300_000);
    expect(state.knownNotCurrent(forged, publishedBefore)).toBe(false); // rememberVersionsMs: 5 min
  });

  it('a version that was current before is remembered; an AWSPENDING one is not (its label may move next)', async () => {
    const { sm, refresher, state, rotate } = await setup();
    const old = state.held?.versionId ?? '';
    const current = rotate();
    await refresher.refresh(state, invalidation(current));
    const pending = sm.putPending('app/db');
    sm.failWith(undefined);
    sm.calls.length = 0;
    const longAgo = Date.now() - 60_000;

    const replay = refresher.refresh(state, invalidation(old));
    await vi.advanceTimersByTimeAsync(500); // the budget spaces refreshes one interval apart
    await replay;
    expect(sm.calls).toEqual([
      { SecretId: 'app/db', VersionId: old },
      { SecretId: 'app/db', VersionStage: 'AWSCURRENT' },
    ]);
    expect(state.knownNotCurrent(old, longAgo)).toBe(true);

    await vi.advanceTimersByTimeAsync(1_000);
    const done = refresher.refresh(state, { ...invalidation(pending), at: Date.now() });
    await vi.advanceTimersByTimeAsync(3_000);
    await done;
    expect(state.knownNotCurrent(pending, longAgo)).toBe(false);
    expect(state.held?.versionId).toBe(current);
  });

  it('triggers that keep applications working bypass the budget: an auth failure reads at once while invalidations wait', async () => {
    const { sm, refresher, state, counts, rotate } = await setup({ refreshBudget: { burst: 1, refillIntervalMs: 10_000 } });
    refresher.submit(state, invalidation(randomUUID())); // by id (the token), then AWSCURRENT: waits for the next token
    await settle();
    expect(sm.calls).toHaveLength(1);
    expect(counts.refreshesThrottled).toBe(1);

    const genuine = rotate();
    // The read waiting for a token goes out at once (the auth failure waits for it), then the auth failure's own.
    const result = await refresher.refresh(state, { kind: 'current', trigger: 'auth-failure', at: Date.now() });
    expect(result).toEqual({ changed: true });
    expect(state.held?.versionId).toBe(genuine);
    expect(sm.calls).toHaveLength(3);

    for (const trigger of ['force', 'poll', 'retry'] as const) {
      refresher.submit(state, invalidation(randomUUID())); // budgeted: waits
      await settle();
      const calls = sm.calls.length;
      await refresher.refresh(state, { kind: 'current', trigger, at: Date.now() });
      expect(sm.calls.length).toBeGreaterThan(calls);
    }
  });

  it('a replayed message id is handled once', () => {
    const state = new SecretState('db', { secretId: 'app/db' });
    const id = randomUUID();
    expect(state.handle(id)).toBe(true);
    expect(state.handle(id)).toBe(false);
    expect(state.handle(randomUUID())).toBe(true);
  });

  it('a wait for a change ends early when a newer request waits: it reads next and carries the wait on', async () => {
    const { sm, refresher, state, rotate } = await setup({ refreshBudget: { refillIntervalMs: 1 } });
    refresher.submit(state, { kind: 'changed', trigger: 'invalidation', at: Date.now() });
    await settle();
    expect(sm.reads({ stage: 'AWSCURRENT' })).toHaveLength(1);
    const genuine = rotate({ staleReads: 100 }); // AWSCURRENT reads keep showing the old version
    refresher.submit(state, invalidation(genuine));
    await vi.advanceTimersByTimeAsync(200);
    // The loop's next read saw a request waiting and handed over: the version read by id, in place.
    expect(state.held?.versionId).toBe(genuine);
    expect(sm.calls).toEqual([
      { SecretId: 'app/db', VersionStage: 'AWSCURRENT' },
      { SecretId: 'app/db', VersionStage: 'AWSCURRENT' },
      { SecretId: 'app/db', VersionId: genuine },
    ]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sm.calls).toHaveLength(3);
  });

  it('stopping drops what waits for the budget: its callers get CacheStoppedError, no timer fires a read later', async () => {
    const { sm, refresher, state, stop } = await setup({ refreshBudget: { burst: 1, refillIntervalMs: 10_000 } });
    refresher.submit(state, invalidation(randomUUID()));
    await settle();
    const reconcile = refresher.refresh(state, { kind: 'version', versionId: randomUUID(), ifNotCurrent: 'read-current', trigger: 'reconcile', at: Date.now() });
    const calls = sm.calls.length;
    stop();
    await expect(reconcile).rejects.toBeInstanceOf(CacheStoppedError);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sm.calls.length).toBe(calls);
    expect(vi.getTimerCount()).toBe(0);
  });
});
