import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricNames } from '../../../src/metrics/index.js';
import { createInvalidation, publishInvalidation, signIfKeyed } from '../../../src/protocol/index.js';
import type { CredentialCacheOptions } from '../../../src/sdk/cache/types.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import type { TestSecret } from '../../support/moto-secrets.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { waitUntil } from '../../support/wait-until.js';
import { instance, leakedValues, type Instance } from '../../support/subscribed-cache.js';

const TWO_MINUTES_MS = 120_000;

/**
 * A subscriber whose clock is off, on real services: a private redis-server, moto_server behind
 * the cache, and genuine invalidations signed with the fixture's key and published with the
 * worker's own publish script. The cache's `now` option is its host clock, skewed by two minutes;
 * the publisher's clock is the real one.
 */
describe('CredentialCache on a host whose clock is two minutes off (redis-server + moto, signed publish)', () => {
  let fixture: RelayFixture;
  let publisher: Redis;
  const instances: Instance[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start();
    publisher = new Redis(fixture.redis.url);
  });

  afterAll(async () => {
    await Promise.allSettled(instances.map((app) => app.cache.stop()));
    publisher?.disconnect();
    await fixture?.stop();
  });

  async function startApp(secret: TestSecret, skewMs: number, options: Partial<CredentialCacheOptions> = {}) {
    const metrics = new MetricsRecorderDouble();
    const app = instance(fixture, { secrets: { db: { secretId: secret.name, json: true } }, metrics, now: () => Date.now() + skewMs, ...options });
    instances.push(app);
    await app.cache.start();
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'the cache subscribed' });
    return { app, metrics };
  }

  /** Rotates in moto and publishes the genuine, signed invalidation as the worker would. */
  async function rotateAndPublish(secret: TestSecret): Promise<string> {
    const versionId = await fixture.secrets.rotate(secret);
    const invalidation = signIfKeyed(
      createInvalidation({ secretArn: secret.arn, secretName: secret.name, versionId, reason: 'clock-skew test', eventId: `skew-${versionId}`, eventTime: new Date().toISOString() }),
      fixture.signingKeys,
    );
    const outcome = await publishInvalidation(publisher, 'rotation-relay', invalidation);
    expect(outcome).toMatchObject({ outcome: 'published', receivers: expect.any(Number) });
    return versionId;
  }

  const skewWarnings = (app: Instance) => app.logs.records().filter((record) => record['level'] === 'warn' && String(record['msg']).startsWith('clock skew'));
  const rejectionWarnings = (app: Instance) => app.logs.records().filter((record) => record['level'] === 'warn' && String(record['msg']).startsWith('invalidation rejected'));

  it('a host behind the worker rejects genuine messages as from-the-future, warns once with the skew, counts ClockSkewDetected each', async () => {
    // Prepare
    const secret = await fixture.createSecret('skew/behind');
    const { app, metrics } = await startApp(secret, -TWO_MINUTES_MS);
    const held = app.cache.current('db').versionId;
    const readsBefore = app.counting.reads.length;

    // Act: two genuine rotations, each broadcast.
    await rotateAndPublish(secret);
    await rotateAndPublish(secret);
    await waitUntil(() => app.cache.status().counts.invalidationsRejected === 2, { message: 'both genuine messages rejected' });

    // Assess
    expect(metrics.total(MetricNames.ClockSkewDetected)).toBe(2);
    const [warning, ...more] = skewWarnings(app);
    expect(more).toEqual([]);
    expect(warning).toMatchObject({ code: 'from-the-future', ahead: 'worker', clockSkewToleranceMs: 30_000 });
    // publishedAt − this host's clock: the two minutes, less the delivery time.
    const skewMs = Number(warning?.['skewMs']);
    expect(skewMs).toBeLessThanOrEqual(TWO_MINUTES_MS);
    expect(skewMs).toBeGreaterThan(TWO_MINUTES_MS - 1_000);
    // The rejection itself: one full line, the second only counted for the summary.
    expect(rejectionWarnings(app).map((record) => record['code'])).toEqual(['from-the-future']);
    expect(app.counting.reads.length).toBe(readsBefore);
    expect(app.cache.current('db').versionId).toBe(held);
    process.stdout.write(`[clock-skew] host 2 min behind: measured skewMs=${skewMs}\n`);
  });

  it('the same host accepts and applies the genuine message once clockSkewToleranceMs exceeds the skew', async () => {
    // Prepare
    const secret = await fixture.createSecret('skew/behind-tolerated');
    const { app, metrics } = await startApp(secret, -TWO_MINUTES_MS, { clockSkewToleranceMs: 3 * 60_000 });

    // Act
    const versionId = await rotateAndPublish(secret);
    await waitUntil(() => app.cache.current('db').versionId === versionId, { message: 'the genuine rotation applied' });

    // Assess
    expect(app.counting.reads.at(-1)).toEqual({ SecretId: secret.name, VersionId: versionId });
    expect(app.cache.status().counts).toMatchObject({ invalidationsReceived: 1, invalidationsRejected: 0 });
    expect(metrics.total(MetricNames.ClockSkewDetected)).toBe(0);
    expect(skewWarnings(app)).toEqual([]);
  });

  it('a host ahead of the worker by more than maxAgeMs rejects them as too-old, warns once, counts ClockSkewDetected', async () => {
    // Prepare: a one-minute replay window, which two minutes of skew exceed.
    const secret = await fixture.createSecret('skew/ahead');
    const { app, metrics } = await startApp(secret, TWO_MINUTES_MS, { maxAgeMs: 60_000 });
    const held = app.cache.current('db').versionId;

    // Act
    await rotateAndPublish(secret);
    await rotateAndPublish(secret);
    await waitUntil(() => app.cache.status().counts.invalidationsRejected === 2, { message: 'both genuine messages rejected' });

    // Assess
    expect(metrics.total(MetricNames.ClockSkewDetected)).toBe(2);
    const [warning, ...more] = skewWarnings(app);
    expect(more).toEqual([]);
    expect(warning).toMatchObject({ code: 'too-old', ahead: 'this host', maxAgeMs: 60_000 });
    const skewMs = Number(warning?.['skewMs']);
    expect(skewMs).toBeLessThan(-TWO_MINUTES_MS + 1);
    expect(skewMs).toBeGreaterThan(-TWO_MINUTES_MS - 1_000);
    expect(app.cache.current('db').versionId).toBe(held);
    process.stdout.write(`[clock-skew] host 2 min ahead: measured skewMs=${skewMs}\n`);
  });

  it('the host ahead accepts and applies the genuine message once maxAgeMs exceeds the skew (the past side is the max age)', async () => {
    // Prepare
    const secret = await fixture.createSecret('skew/ahead-tolerated');
    const { app, metrics } = await startApp(secret, TWO_MINUTES_MS, { maxAgeMs: 3 * 60_000 });

    // Act
    const versionId = await rotateAndPublish(secret);
    await waitUntil(() => app.cache.current('db').versionId === versionId, { message: 'the genuine rotation applied' });

    // Assess
    expect(app.cache.status().counts).toMatchObject({ invalidationsReceived: 1, invalidationsRejected: 0 });
    expect(metrics.total(MetricNames.ClockSkewDetected)).toBe(0);
    expect(skewWarnings(app)).toEqual([]);
  });

  it('logs no secret value', () => {
    const values = fixture.created.flatMap((secret) => secret.values);
    for (const app of instances) expect(leakedValues(app.logs.lines().join('\n'), values)).toEqual([]);
  });
});
