import { describe, expect, it } from 'vitest';
import { createInvalidation, type Invalidation } from '../../../src/protocol/index.js';
import { refreshLimitsFrom, resolveCacheOptions } from '../../../src/sdk/cache/options.js';
import { RefreshQueue } from '../../../src/sdk/cache/refresh-queue.js';
import { Refresher, type CacheCounts } from '../../../src/sdk/cache/refresher.js';
import { SecretState } from '../../../src/sdk/cache/secret-state.js';
import type { RevokedEvent, RotatedEvent } from '../../../src/sdk/cache/types.js';
import { harness, leaks } from '../../support/cache-harness.js';
import { captureLogger } from '../../support/log-capture.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import { serverError, SecretsManagerClientDouble } from '../../support/secrets-manager-client-double.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * The cache's side of the emergency revoke: `forceRefresh(name, { terminateOld: true })` and a
 * signed invalidation with `terminateOld` both end in one `revoked` event naming the version
 * held once the read settled; and the count a client's refused `validateBeforeSwitch` check adds.
 */

function recordEvents(cache: { on(event: 'rotated', l: (e: RotatedEvent) => void): unknown; on(event: 'revoked', l: (e: RevokedEvent) => void): unknown }) {
  const events: Array<{ type: 'rotated' | 'revoked'; versionId: string; trigger: string }> = [];
  cache.on('rotated', (e) => events.push({ type: 'rotated', versionId: e.versionId, trigger: e.trigger }));
  cache.on('revoked', (e) => events.push({ type: 'revoked', versionId: e.versionId, trigger: e.trigger }));
  return events;
}

describe('forceRefresh with terminateOld', () => {
  it('reads the new version, emits rotated, then revoked naming it; counted and logged at warn without a value', async () => {
    const h = harness();
    await h.cache.start();
    const events = recordEvents(h.cache);
    const next = h.sm.rotate('app/db');

    await h.cache.forceRefresh('db', { terminateOld: true });

    expect(events).toEqual([
      { type: 'rotated', versionId: next, trigger: 'force' },
      { type: 'revoked', versionId: next, trigger: 'force' },
    ]);
    expect(h.cache.status().counts.revocations).toBe(1);
    const warning = h.logs.records().find((r) => r['code'] === 'TERMINATE_OLD');
    expect(warning).toMatchObject({ level: 'warn', name: 'db', versionId: next, trigger: 'force' });
    expect(String(warning?.msg)).toContain('secret "db"');
    expect(leaks(h.logs.lines().join('\n'), h.sm.values)).toEqual([]);
    await h.cache.stop();
  });

  it('revokes also when nothing changed: the cache already holds the new version, old connections are still draining', async () => {
    const h = harness();
    await h.cache.start();
    const held = h.cache.current('db').versionId;
    const events = recordEvents(h.cache);

    await h.cache.forceRefresh('db', { terminateOld: true });

    expect(events).toEqual([{ type: 'revoked', versionId: held, trigger: 'force' }]);
    await h.cache.stop();
  });

  it('emits no revoked without the option', async () => {
    const h = harness();
    await h.cache.start();
    const events = recordEvents(h.cache);
    h.sm.rotate('app/db');

    await h.cache.forceRefresh('db');

    expect(events.map((e) => e.type)).toEqual(['rotated']);
    expect(h.cache.status().counts.revocations).toBeUndefined();
    await h.cache.stop();
  });

  it('still revokes on what is held when the read fails, and rejects with the read error', async () => {
    const h = harness();
    await h.cache.start();
    const held = h.cache.current('db').versionId;
    const events = recordEvents(h.cache);
    h.sm.failWith(() => serverError());

    await expect(h.cache.forceRefresh('db', { terminateOld: true })).rejects.toMatchObject({ code: 'SECRETS_MANAGER_UNAVAILABLE' });

    expect(events).toEqual([{ type: 'revoked', versionId: held, trigger: 'force' }]);
    await h.cache.stop();
  });

  it('revokes every secret when no name is given, each once its own read settled', async () => {
    const h = harness({ secrets: { db: { secretId: 'app/db', json: true }, other: { secretId: 'app/other', json: true } } }, (sm) => sm.create('app/other'));
    await h.cache.start();
    const next = h.sm.rotate('app/db');
    const revoked: RevokedEvent[] = [];
    h.cache.on('revoked', (e) => revoked.push(e));

    await h.cache.forceRefresh(undefined, { terminateOld: true });

    expect(revoked.map((e) => [e.name, e.versionId]).sort()).toEqual([
      ['db', next],
      ['other', h.cache.current('other').versionId],
    ].sort());
    await h.cache.stop();
  });
});

describe('recordValidationFailure', () => {
  it('counts in status() and as the CredentialValidationFailures metric', async () => {
    const metrics = new MetricsRecorderDouble();
    const h = harness({ metrics });
    await h.cache.start();
    expect(h.cache.status().counts.credentialValidationFailures).toBeUndefined();

    h.cache.recordValidationFailure('db');
    h.cache.recordValidationFailure('db');

    expect(h.cache.status().counts.credentialValidationFailures).toBe(2);
    expect(metrics.total('CredentialValidationFailures')).toBe(2);
    expect(() => h.cache.recordValidationFailure('nope')).toThrow(/nope/);
    await h.cache.stop();
  });
});

describe('a signed invalidation with terminateOld (RefreshQueue)', () => {
  const KEY = 'k'.repeat(40);

  async function setup(signingKeys: readonly string[]) {
    const sm = new SecretsManagerClientDouble();
    sm.create('app/db');
    const logs = captureLogger({ component: 'terminate-old' });
    const options = resolveCacheOptions({ secrets: { db: { secretId: 'app/db', json: true } }, refreshStartQuietMs: 0, logger: logs.logger });
    const counts: CacheCounts = { refreshes: 0, failures: 0, authRecoveries: 0, missedByEvents: 0, invalidationsReceived: 0, invalidationsRejected: 0 };
    const rotated: RotatedEvent[] = [];
    const refresher = new Refresher({ client: sm.client, options, counts, isRunning: () => true, onRotated: (e) => rotated.push(e) });
    const state = new SecretState('db', { secretId: 'app/db', json: true }, refreshLimitsFrom(options));
    await refresher.refresh(state, { kind: 'current', trigger: 'start', at: Date.now() });
    const revokedAt: Array<string | undefined> = [];
    const queue = new RefreshQueue({
      states: new Map([['db', state]]),
      refresher,
      counts,
      signingKeys,
      now: () => Date.now(),
      logger: logs.logger,
      sawBroadcast: () => undefined,
      revoke: (s) => revokedAt.push(s.held?.versionId),
    });
    const message = (versionId: string, extra: Partial<Invalidation> = {}): Invalidation =>
      createInvalidation({ secretArn: sm.arn('app/db'), secretName: 'app/db', versionId, reason: 'emergency revoke', eventId: `manual-${versionId}`, eventTime: new Date().toISOString(), terminateOld: true, ...extra });
    return { sm, state, queue, rotated, revokedAt, logs, message };
  }

  it('refreshes to the version it names, then revokes on it, once: a replay of its id revokes nothing more', async () => {
    const { sm, state, queue, rotated, revokedAt, message } = await setup([KEY]);
    const next = sm.rotate('app/db');
    const invalidation = message(next);

    queue.onInvalidation(invalidation);
    await waitUntil(() => revokedAt.length === 1, { message: 'the revoke after the refresh' });
    queue.onInvalidation(invalidation);

    expect(rotated.map((e) => e.versionId)).toEqual([next]);
    expect(revokedAt).toEqual([next]);
    expect(state.held?.versionId).toBe(next);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(revokedAt).toEqual([next]);
  });

  it('revokes at once when the version it names is already held', async () => {
    const { state, queue, revokedAt, rotated, message } = await setup([KEY]);
    const held = state.held?.versionId ?? '';

    queue.onInvalidation(message(held));

    await waitUntil(() => revokedAt.length === 1, { message: 'the revoke' });
    expect(revokedAt).toEqual([held]);
    expect(rotated).toEqual([]);
  });

  it('ignores the flag without signing keys (unsigned: anyone could send it), warns once, and still refreshes', async () => {
    const { sm, state, queue, revokedAt, logs, message } = await setup([]);
    const next = sm.rotate('app/db');

    queue.onInvalidation(message(next));
    queue.onInvalidation(message(next, { eventId: 'manual-again' }));

    await waitUntil(() => state.held?.versionId === next, { message: 'the plain refresh' });
    expect(revokedAt).toEqual([]);
    expect(logs.records().filter((r) => r['code'] === 'TERMINATE_OLD_UNSIGNED' && r.level === 'warn')).toHaveLength(1);
  });

  it('without the flag, refreshes and never revokes', async () => {
    const { sm, state, queue, revokedAt, message } = await setup([KEY]);
    const next = sm.rotate('app/db');
    const { terminateOld: _flag, ...plain } = message(next);

    queue.onInvalidation(plain);

    await waitUntil(() => state.held?.versionId === next, { message: 'the refresh' });
    expect(revokedAt).toEqual([]);
  });
});
