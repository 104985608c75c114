import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Refresher } from '../../../src/sdk/cache/refresher.js';
import { resolveCacheOptions } from '../../../src/sdk/cache/options.js';
import { SecretState } from '../../../src/sdk/cache/secret-state.js';
import { SingleFlight } from '../../../src/sdk/cache/single-flight.js';
import { SecretsManagerClientDouble } from '../../support/secrets-manager-client-double.js';
import { harness } from '../../support/cache-harness.js';

describe('SingleFlight', () => {
  it('gives concurrent callers one run, and starts a new one after it settled', async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const op = async () => {
      runs += 1;
      await gate;
      return runs;
    };
    const joined = Array.from({ length: 10 }, () => flight.run(op));
    expect(flight.inFlight).toBeDefined();
    release();
    expect(await Promise.all(joined)).toEqual(Array(10).fill(1));
    expect(flight.inFlight).toBeUndefined();
    expect(await flight.run(op)).toBe(2);
  });

  it('clears the slot before joined callers resume, also after a failure', async () => {
    const flight = new SingleFlight<void>();
    const failing = flight.run(async () => {
      throw new Error('boom');
    });
    await expect(failing).rejects.toThrow('boom');
    expect(flight.inFlight).toBeUndefined();
  });
});

describe('one GetSecretValue for concurrent triggers of one secret', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('N concurrent forceRefresh / reportAuthFailure calls share one read', async () => {
    const h = harness();
    await h.cache.start();
    await vi.advanceTimersByTimeAsync(5_000); // past the auth-failure rate limit of the start read
    const before = h.reads();
    h.sm.rotate('app/db');

    const results = await Promise.all([
      ...Array.from({ length: 10 }, () => h.cache.reportAuthFailure('db')),
      ...Array.from({ length: 10 }, () => h.cache.forceRefresh('db').then(() => ({ changed: true, current: h.cache.current('db') }))),
    ]);

    expect(h.reads() - before).toBe(1);
    expect(results.every((result) => result.changed)).toBe(true);
    expect(h.cache.current('db').versionId).toBe(h.sm.currentVersion('app/db'));
    await h.cache.stop();
  });

  it('N concurrent invalidations naming the same version cost one read by VersionId, and none once it is held', async () => {
    const sm = new SecretsManagerClientDouble();
    sm.create('app/db');
    const options = resolveCacheOptions({ secrets: { db: { secretId: 'app/db', json: true } } });
    const refresher = new Refresher({ client: sm.client, options, counts: counts(), isRunning: () => true, onRotated: () => undefined });
    const state = new SecretState('db', { secretId: 'app/db', json: true });
    await refresher.refresh(state, { kind: 'current', trigger: 'start', at: Date.now() });
    const next = sm.rotate('app/db');
    sm.calls.length = 0;

    const request = { kind: 'version', versionId: next, ifNotCurrent: 'wait-for-change', trigger: 'invalidation', at: Date.now() } as const;
    await Promise.all(Array.from({ length: 25 }, () => refresher.refresh(state, request)));
    await refresher.refresh(state, request);

    expect(sm.calls).toEqual([{ SecretId: 'app/db', VersionId: next }]);
    expect(state.held?.versionId).toBe(next);
  });
});

function counts() {
  return { refreshes: 0, failures: 0, authRecoveries: 0, missedByEvents: 0, invalidationsReceived: 0, invalidationsRejected: 0 };
}
