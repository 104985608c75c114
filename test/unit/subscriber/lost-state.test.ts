import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MetricNames } from '../../../src/metrics/index.js';
import { createInvalidation, type Invalidation } from '../../../src/protocol/index.js';
import { resolveCacheOptions } from '../../../src/sdk/cache/options.js';
import { DEFAULT_LOST_STATE_JITTER_MS, LostStateRecovery, type VersionsRead } from '../../../src/sdk/cache/reconcile.js';
import { Refresher, type CacheCounts } from '../../../src/sdk/cache/refresher.js';
import { SecretState } from '../../../src/sdk/cache/secret-state.js';
import { captureLogger } from '../../support/log-capture.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import { SecretsManagerClientDouble } from '../../support/secrets-manager-client-double.js';
import { leaks } from '../../support/cache-harness.js';

const SECRETS = { db: { secretId: 'app/db', json: true }, token: { secretId: 'app/token' } } as const;

/**
 * `db` and `token` loaded through a real Refresher over the fake Secrets Manager, and the
 * recovery rereading through that refresher, as the cache wires it. `reads()` counts GetSecretValue.
 */
async function setup(overrides: { jitterMs?: number; random?: () => number } = {}) {
  const sm = new SecretsManagerClientDouble();
  sm.create('app/db');
  sm.create('app/token', 'plain-token-value-abcdef');
  const options = resolveCacheOptions({ secrets: SECRETS });
  const counts: CacheCounts = { refreshes: 0, failures: 0, authRecoveries: 0, missedByEvents: 0, invalidationsReceived: 0, invalidationsRejected: 0, versionsStateLost: 0 };
  const refresher = new Refresher({ client: sm.client, options, counts, isRunning: () => true, onRotated: () => undefined });
  const states = Object.entries(SECRETS).map(([name, spec]) => new SecretState(name, spec));
  for (const state of states) await refresher.refresh(state, { kind: 'current', trigger: 'start', at: Date.now() });
  const [db, token] = states as [SecretState, SecretState];
  sm.calls.length = 0;
  const logs = captureLogger({ component: 'lost-state-test' });
  const metrics = new MetricsRecorderDouble();
  let running = true;
  const recovery = new LostStateRecovery({
    ...overrides,
    reread: (state, request) => void refresher.refresh(state, request).catch(() => undefined),
    isRunning: () => running,
    counts,
    now: () => Date.now(),
    logger: logs.logger,
    metrics,
  });
  /** The hash as reconcile reads it: one verified entry (naming the held version) per secret given. */
  const hash = (...present: SecretState[]): VersionsRead => ({ entries: new Map(present.map((state) => [sm.arn(state.spec.secretId), entryFor(state)])), rejected: 0 });
  const entryFor = (state: SecretState): Invalidation =>
    createInvalidation({
      secretArn: sm.arn(state.spec.secretId),
      secretName: state.spec.secretId,
      versionId: state.held?.versionId ?? 'none',
      reason: 'test',
      eventId: `e-${state.name}`,
      eventTime: new Date().toISOString(),
    });
  const warnings = () => logs.records().filter((record) => record['code'] === 'VERSIONS_STATE_LOST');
  return { sm, db, token, states, counts, recovery, hash, logs, metrics, warnings, reads: () => sm.calls, stopRunning: () => (running = false) };
}

describe('LostStateRecovery', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('an emptied hash rereads AWSCURRENT once per secret seen there, after the jitter, and counts and logs the loss once', async () => {
    const t = await setup();
    t.recovery.check(t.states, t.hash(t.db, t.token));
    const nextDb = t.sm.rotate('app/db');
    const nextToken = t.sm.rotate('app/token');

    expect(t.recovery.check(t.states, t.hash())).toEqual([t.db, t.token]);
    expect(t.reads()).toEqual([]); // the jitter first
    await vi.advanceTimersByTimeAsync(DEFAULT_LOST_STATE_JITTER_MS);

    expect(t.reads()).toEqual([
      { SecretId: 'app/db', VersionStage: 'AWSCURRENT' },
      { SecretId: 'app/token', VersionStage: 'AWSCURRENT' },
    ]);
    expect(t.db.held?.versionId).toBe(nextDb);
    expect(t.token.held?.versionId).toBe(nextToken);
    expect(t.counts.versionsStateLost).toBe(1);
    expect(t.metrics.total(MetricNames.VersionsStateLost)).toBe(1);
    expect(t.warnings()).toEqual([
      expect.objectContaining({ level: 'warn', names: ['db', 'token'], secretIds: ['app/db', 'app/token'], hashEmpty: true, rereadInMs: expect.any(Number) }),
    ]);
    expect(leaks(t.logs.lines().join('\n'), t.sm.values)).toEqual([]);
  });

  it('an entry missing for one secret only rereads only that one', async () => {
    const t = await setup();
    t.recovery.check(t.states, t.hash(t.db, t.token));

    expect(t.recovery.check(t.states, t.hash(t.token))).toEqual([t.db]);
    await vi.advanceTimersByTimeAsync(DEFAULT_LOST_STATE_JITTER_MS);

    expect(t.reads()).toEqual([{ SecretId: 'app/db', VersionStage: 'AWSCURRENT' }]);
    expect(t.warnings()).toEqual([expect.objectContaining({ names: ['db'], hashEmpty: false })]);
  });

  it('later reconciles over the same empty hash (a reconnect storm) read nothing more, until the hash shows the secret again', async () => {
    const t = await setup();
    t.recovery.check(t.states, t.hash(t.db));
    t.recovery.check(t.states, t.hash());
    for (let i = 0; i < 5; i += 1) expect(t.recovery.check(t.states, t.hash())).toEqual([]);
    await vi.advanceTimersByTimeAsync(DEFAULT_LOST_STATE_JITTER_MS);
    expect(t.reads()).toHaveLength(1);
    expect(t.counts.versionsStateLost).toBe(1);
    expect(t.warnings()).toHaveLength(1);

    // The worker published again: the entry is back, and a second loss is a new loss.
    t.recovery.check(t.states, t.hash(t.db));
    expect(t.recovery.check(t.states, t.hash())).toEqual([t.db]);
    await vi.advanceTimersByTimeAsync(DEFAULT_LOST_STATE_JITTER_MS);
    expect(t.reads()).toHaveLength(2);
    expect(t.counts.versionsStateLost).toBe(2);
    expect(t.metrics.total(MetricNames.VersionsStateLost)).toBe(2);
  });

  it('a secret never seen in the hash is not read when the hash is empty (a new deployment, a secret that never rotated)', async () => {
    const t = await setup();
    expect(t.recovery.check(t.states, t.hash())).toEqual([]);
    await vi.advanceTimersByTimeAsync(DEFAULT_LOST_STATE_JITTER_MS);
    expect(t.reads()).toEqual([]);
    expect(t.counts.versionsStateLost).toBe(0);
    expect(t.metrics.total(MetricNames.VersionsStateLost)).toBe(0);
    expect(t.warnings()).toEqual([]);
  });

  it('skipped entries (corrupt, or not signed with an accepted key) are not missing: no reread, and the secret stays armed', async () => {
    const t = await setup();
    t.recovery.check(t.states, t.hash(t.db, t.token));

    expect(t.recovery.check(t.states, { entries: new Map(), rejected: 2 })).toEqual([]);
    expect(t.recovery.check(t.states, { entries: t.hash(t.token).entries, rejected: 1 })).toEqual([]);
    await vi.advanceTimersByTimeAsync(DEFAULT_LOST_STATE_JITTER_MS);
    expect(t.reads()).toEqual([]);
    expect(t.warnings()).toEqual([]);

    // Once the hash really is empty, the loss is noticed.
    expect(t.recovery.check(t.states, t.hash())).toEqual([t.db, t.token]);
  });

  it('a verified broadcast counts as seen in the hash (the worker stores every broadcast there)', async () => {
    const t = await setup();
    t.recovery.sawBroadcast(t.db);
    expect(t.recovery.check(t.states, t.hash())).toEqual([t.db]);
  });

  it('the reread waits a uniform random 0..jitterMs', async () => {
    const t = await setup({ jitterMs: 400, random: () => 0.75 });
    t.recovery.check(t.states, t.hash(t.db));
    t.recovery.check(t.states, t.hash());

    await vi.advanceTimersByTimeAsync(299);
    expect(t.reads()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.reads()).toHaveLength(1);
    expect(t.warnings()).toEqual([expect.objectContaining({ rereadInMs: 300 })]);
  });

  it('a read that completed while the reread waited (a poll, a broadcast) makes it unnecessary', async () => {
    const t = await setup({ random: () => 0.5 });
    const refresher = new Refresher({ client: t.sm.client, options: resolveCacheOptions({ secrets: SECRETS }), counts: t.counts, isRunning: () => true, onRotated: () => undefined });
    t.recovery.check(t.states, t.hash(t.db));
    t.recovery.check(t.states, t.hash());

    await vi.advanceTimersByTimeAsync(10);
    await refresher.refresh(t.db, { kind: 'current', trigger: 'poll', at: Date.now() });
    await vi.advanceTimersByTimeAsync(DEFAULT_LOST_STATE_JITTER_MS);
    expect(t.reads()).toEqual([{ SecretId: 'app/db', VersionStage: 'AWSCURRENT' }]); // the poll's, only
  });

  it('a poll does not re-arm a secret found lost: only the hash does', async () => {
    const t = await setup();
    const refresher = new Refresher({ client: t.sm.client, options: resolveCacheOptions({ secrets: SECRETS }), counts: t.counts, isRunning: () => true, onRotated: () => undefined });
    t.recovery.check(t.states, t.hash(t.db));
    t.recovery.check(t.states, t.hash());
    await vi.advanceTimersByTimeAsync(DEFAULT_LOST_STATE_JITTER_MS);
    await refresher.refresh(t.db, { kind: 'current', trigger: 'poll', at: Date.now() });
    await refresher.refresh(t.db, { kind: 'current', trigger: 'force', at: Date.now() });

    expect(t.recovery.check(t.states, t.hash())).toEqual([]);
    await vi.advanceTimersByTimeAsync(DEFAULT_LOST_STATE_JITTER_MS);
    expect(t.reads()).toHaveLength(3); // the reread, the poll, the forced refresh
  });

  it('stop() drops a reread still waiting for its jitter, and a stopping cache starts none', async () => {
    const t = await setup({ random: () => 0.5 });
    t.recovery.check(t.states, t.hash(t.db, t.token));
    t.recovery.check(t.states, t.hash(t.token));
    t.recovery.stop();
    t.stopRunning();
    t.recovery.check(t.states, t.hash());
    await vi.advanceTimersByTimeAsync(DEFAULT_LOST_STATE_JITTER_MS);
    expect(t.reads()).toEqual([]);
  });
});
