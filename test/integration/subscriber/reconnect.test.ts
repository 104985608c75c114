import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import type { TestSecret } from '../../support/moto-secrets.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';
import { instance, leakedValues, type Instance } from '../../support/subscribed-cache.js';

const FLAKY_PASSWORD = 'flaky-user-password-0123456789';

/**
 * The subscriber's own connection faults, on real services. The worker publishes into a Redis
 * with ACL users so the test can lock a subscriber out (user off), or rotate its password, while
 * broadcasts go on.
 */
describe('CredentialCache reconnects (ACL redis-server + moto + fauxqs + worker)', () => {
  let fixture: RelayFixture;
  let redis: RedisHandle;
  let admin: Redis;
  let outcomes: MessageOutcome[];
  let redisSecret: TestSecret;
  const instances: Instance[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start();
    // The listener's Redis password lives in Secrets Manager, as `password` of a JSON secret.
    redisSecret = await fixture.createSecret('redis/listener');
    const listenerPassword = JSON.parse(redisSecret.values[0] ?? '{}').password as string;
    redis = await startRedis({
      aclUsers: [
        { name: 'listener', passwords: [listenerPassword] },
        { name: 'flaky', passwords: [FLAKY_PASSWORD] },
      ],
    });
    admin = new Redis(redis.url);
    ({ outcomes } = await fixture.startWorker({ ROTATION_RELAY_REDIS_URL: redis.url }));
  });

  afterAll(async () => {
    await Promise.allSettled(instances.map((app) => app.cache.stop()));
    admin?.disconnect();
    await fixture?.stop();
    await redis?.stop();
  });

  const publishedFor = (arn: string, versionId: string) => () =>
    outcomes.some((outcome) => outcome.kind === 'published' && outcome.secretArn === arn && outcome.versionId === versionId);

  it('a subscriber disconnected during a broadcast reconciles on reconnect, refreshed within 1 s', async () => {
    const secret = await fixture.createSecret();
    const app = instance(fixture, { secrets: { db: { secretId: secret.name, json: true } } }, `redis://flaky:${FLAKY_PASSWORD}@127.0.0.1:${redis.port}`);
    instances.push(app);
    let subscribedAt = 0;
    app.cache.on('subscribed', () => (subscribedAt = Date.now()));
    await app.cache.start();
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'subscribed' });
    const oldVersion = secret.versionId;

    // Lock the subscriber out: it cannot re-authenticate until the user is switched back on.
    await admin.call('ACL', 'SETUSER', 'flaky', 'off');
    await admin.call('CLIENT', 'KILL', 'USER', 'flaky');
    await waitUntil(() => !app.cache.status().pubsub.connected, { message: 'the subscription to drop' });

    const newVersion = await fixture.secrets.rotate(secret);
    await fixture.send(labelUpdatedEvent(secret.arn, newVersion));
    await fixture.until(publishedFor(secret.arn, newVersion), 'the worker to publish while the subscriber is away');
    expect(app.cache.current('db').versionId).toBe(oldVersion);
    const readsBefore = app.counting.reads.length;

    await admin.call('ACL', 'SETUSER', 'flaky', 'on');
    await waitUntil(() => app.cache.current('db').versionId === newVersion, { message: 'the reconcile to refresh the secret', timeoutMs: 10_000 });

    const rotation = app.rotations.find((event) => event.versionId === newVersion);
    expect(rotation?.trigger).toBe('reconcile');
    const sinceReconnect = (rotation?.at ?? Infinity) - subscribedAt;
    process.stdout.write(`[reconcile] resubscribed → new value in place: ${sinceReconnect} ms\n`);
    expect(sinceReconnect).toBeGreaterThanOrEqual(0);
    expect(sinceReconnect).toBeLessThan(1_000);
    // The versions hash names the version: one read, by VersionId.
    expect(app.counting.reads.slice(readsBefore)).toEqual([{ SecretId: secret.name, VersionId: newVersion }]);
    expect(app.cache.status().counts.missedByEvents).toBe(0);
  });

  it("the listener's own Redis password rotates: WRONGPASS refreshes it, it reconnects and keeps receiving", async () => {
    const secret = await fixture.createSecret();
    const app = instance(
      fixture,
      {
        secrets: { db: { secretId: secret.name, json: true }, redis: { secretId: redisSecret.name, json: true } },
        redis: { url: `redis://listener@127.0.0.1:${redis.port}`, cluster: false, keyPrefix: 'rotation-relay', passwordSecret: 'redis' },
      },
    );
    instances.push(app);
    await app.cache.start();
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'subscribed with the password from Secrets Manager' });
    const readsBefore = app.counting.reads.length;

    // The rotation Lambda's steps for an ElastiCache user with a hard switch: new value in
    // Secrets Manager, the user's password replaced, existing connections dropped.
    await fixture.secrets.rotate(redisSecret);
    const newPassword = JSON.parse(redisSecret.values.at(-1) ?? '{}').password as string;
    await admin.call('ACL', 'SETUSER', 'listener', 'resetpass', `>${newPassword}`);
    await admin.call('CLIENT', 'KILL', 'USER', 'listener');

    await waitUntil(() => app.cache.current('redis').versionId === redisSecret.versionId, { message: 'the password secret refreshed', timeoutMs: 10_000 });
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 're-subscribed with the new password', timeoutMs: 10_000 });
    expect(app.rotations).toEqual([expect.objectContaining({ name: 'redis', versionId: redisSecret.versionId, trigger: 'auth-failure' })]);
    expect(app.cache.status().counts.authRecoveries).toBe(1);
    // A storm of WRONGPASS at reconnect still costs one read (rate limit + single flight).
    expect(app.counting.reads.slice(readsBefore)).toEqual([{ SecretId: redisSecret.name, VersionStage: 'AWSCURRENT' }]);

    // Still receiving: a rotation of another secret arrives through the worker as usual.
    const newVersion = await fixture.secrets.rotate(secret);
    await fixture.send(labelUpdatedEvent(secret.arn, newVersion));
    await waitUntil(() => app.cache.current('db').versionId === newVersion, { message: 'the next invalidation to arrive', timeoutMs: 15_000 });
    expect(app.rotations.at(-1)).toMatchObject({ name: 'db', trigger: 'invalidation' });
    const logged = app.logs.records();
    expect(logged.some((record) => String(record['msg']).includes('re-authenticated with the refreshed Redis password'))).toBe(true);
  });

  it('no status() and no log line of these tests holds a secret value', () => {
    const values = [...fixture.created.flatMap((secret) => secret.values), FLAKY_PASSWORD];
    const text = [
      ...instances.flatMap((app) => [JSON.stringify(app.cache.status()), ...app.logs.lines()]),
      ...fixture.logs.lines(),
    ].join('\n');
    expect(leakedValues(text, values)).toEqual([]);
  });
});
