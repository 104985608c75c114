import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { serverError } from '../../support/secrets-manager-client-double.js';
import { harness, leaks } from '../../support/cache-harness.js';

describe('status()', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('has exactly the CacheStatus shape and never a secret value, through rotations and failures', async () => {
    const h = harness(
      {
        secrets: { db: { secretId: 'app/db', json: true }, token: { secretId: 'app/token' } },
        pollIntervalMs: 60_000,
      },
      (sm) => sm.create('app/token', 'plain-token-value-abcdef'),
    );
    await h.cache.start();
    const snapshots: string[] = [JSON.stringify(h.cache.status())];

    h.sm.rotate('app/db');
    await h.cache.forceRefresh();
    snapshots.push(JSON.stringify(h.cache.status()));
    h.sm.failWith(() => serverError());
    await h.cache.forceRefresh('token').catch(() => undefined);
    snapshots.push(JSON.stringify(h.cache.status()));
    h.sm.failWith(undefined);
    h.sm.putPending('app/db');
    await vi.advanceTimersByTimeAsync(5_000);
    await h.cache.pending('db');
    await h.cache.reportAuthFailure('db');
    await vi.advanceTimersByTimeAsync(70_000);
    snapshots.push(JSON.stringify(h.cache.status()));

    expect(leaks(snapshots.join('\n'), h.sm.values)).toEqual([]);
    expect(leaks(h.logs.lines().join('\n'), h.sm.values)).toEqual([]);

    const status = h.cache.status();
    expect(Object.keys(status).sort()).toEqual(['counts', 'nextPollInMs', 'pollIntervalMs', 'pubsub', 'running', 'secrets']);
    expect(status.pubsub).toEqual({ enabled: false, connected: false });
    expect(Object.keys(status.counts).sort()).toEqual(['authRecoveries', 'failures', 'invalidationsReceived', 'invalidationsRejected', 'missedByEvents', 'refreshes']);
    expect(status.secrets['db']).toEqual({
      secretId: 'app/db',
      secretArn: h.sm.arn('app/db'),
      versionId: h.sm.currentVersion('app/db'),
      source: 'secrets-manager',
      lastRefreshAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      refreshes: expect.any(Number),
      failures: 0,
    });
    expect(status.secrets['token']).toMatchObject({ failures: 1, lastError: { code: 'SECRETS_MANAGER_UNAVAILABLE', at: expect.any(String) } });
    expect(status.counts).toMatchObject({ failures: 1, missedByEvents: 0 });
    expect(status.running).toBe(true);
    await h.cache.stop();
  });
});

describe('log lines', () => {
  it('info on rotation names the secret, version, trigger and latency (not redacted); warn on failure names the code', async () => {
    const h = harness();
    await h.cache.start();
    const next = h.sm.rotate('app/db');
    await h.cache.forceRefresh('db');
    h.sm.failWith(() => serverError());
    await h.cache.forceRefresh('db').catch(() => undefined);
    await h.cache.stop();

    const records = h.logs.records();
    expect(records).toContainEqual(expect.objectContaining({ level: 'info', msg: 'secret rotated', name: 'db', versionId: next, trigger: 'force', latencyMs: expect.any(Number) }));
    expect(records).toContainEqual(expect.objectContaining({ level: 'warn', name: 'db', secretId: 'app/db', code: 'SECRETS_MANAGER_UNAVAILABLE' }));
    expect(h.logs.lines().join('\n')).not.toContain('[redacted]');
    expect(leaks(h.logs.lines().join('\n'), h.sm.values)).toEqual([]);
  });
});
