import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvalidation, publishInvalidation, signIfKeyed } from '../../../src/protocol/index.js';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import type { RelayWorker } from '../../../src/relay/worker/relay-worker.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { rotationEvents } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';
import { instance, leakedValues, type Instance } from '../../support/subscribed-cache.js';

/**
 * The credential cache on real services: moto_server (Secrets Manager), a private redis-server,
 * fauxqs (SQS) and the real worker in between, as in production.
 */
describe('CredentialCache propagation (moto + redis + fauxqs + worker)', () => {
  let fixture: RelayFixture;
  let worker: RelayWorker;
  let outcomes: MessageOutcome[];
  const instances: Instance[] = [];

  const start = async (...created: Instance[]): Promise<Instance[]> => {
    instances.push(...created);
    await Promise.all(created.map((app) => app.cache.start()));
    return created;
  };

  beforeAll(async () => {
    fixture = await RelayFixture.start();
    ({ worker, outcomes } = await fixture.startWorker());
  });

  afterAll(async () => {
    await Promise.allSettled(instances.map((app) => app.cache.stop()));
    await fixture?.stop();
  });

  it('a rotation reaches 3 separate caches through the worker, one GetSecretValue (by VersionId) each', async () => {
    const secret = await fixture.createSecret();
    const apps = await start(...[1, 2, 3].map(() => instance(fixture, { secrets: { db: { secretId: secret.name, json: true } } })));
    await waitUntil(() => apps.every((app) => app.cache.status().pubsub.connected), { message: 'every cache subscribed' });
    const readsBefore = apps.map((app) => app.counting.reads.length);
    const received = await fixture.listen();
    const handledBefore = outcomes.length;

    const oldVersion = secret.versionId;
    const newVersion = await fixture.secrets.rotate(secret);
    // Every event one rotation produces (PutSecretValue AWSPENDING, UpdateSecretVersionStage,
    // RotationSucceeded, Secret Label Updated): the worker must turn them into one broadcast.
    for (const event of rotationEvents(secret.arn, newVersion, oldVersion)) await fixture.send(event);

    await waitUntil(() => apps.every((app) => app.cache.current('db').versionId === newVersion), { message: 'all three caches on the new version', timeoutMs: 15_000 });
    // The other three events are handled too (ignored, or unchanged-version) and cost nothing.
    await fixture.until(() => outcomes.length - handledBefore >= 4, 'the worker to handle all four events');
    expect(received.filter((i) => i.secretArn === secret.arn)).toHaveLength(1);

    for (const [index, app] of apps.entries()) {
      const reads = app.counting.reads.slice(readsBefore[index]);
      expect(reads).toEqual([{ SecretId: secret.name, VersionId: newVersion }]);
      expect(app.cache.get<{ password: string }>('db').password).toBe(JSON.parse(secret.values.at(-1) ?? '{}').password);
      expect(app.rotations).toEqual([expect.objectContaining({ name: 'db', versionId: newVersion, previousVersionId: oldVersion, trigger: 'invalidation' })]);
      expect(app.cache.status().counts).toMatchObject({ invalidationsReceived: 1, invalidationsRejected: 0, missedByEvents: 0 });
    }
    // Invalidation received → new value in place, as each cache measured it.
    const latencies = apps.map((app) => app.rotations[0]?.latencyMs ?? Number.POSITIVE_INFINITY);
    expect(Math.max(...latencies)).toBeLessThan(300);
    process.stdout.write(`[propagation] invalidation → new value in place, 3 caches: ${latencies.join(' / ')} ms\n`);
  });

  it('an invalidation naming a versionId fetches exactly that version (a roll-back too)', async () => {
    const secret = await fixture.createSecret();
    const first = secret.versionId;
    const [app] = await start(instance(fixture, { secrets: { db: { secretId: secret.arn, json: true } } }));
    if (!app) throw new Error('no app');
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'subscribed' });
    const second = await fixture.secrets.rotate(secret);
    const publisher = new Redis(fixture.redis.url);
    try {
      const publish = async (versionId: string) => {
        const invalidation = signIfKeyed(
          createInvalidation({ secretArn: secret.arn, secretName: secret.name, versionId, reason: 'test publish', eventId: `test-${versionId}`, eventTime: new Date().toISOString() }),
          fixture.signingKeys,
        );
        return publishInvalidation(publisher, 'rotation-relay', invalidation);
      };

      let before = app.counting.reads.length;
      await publish(second);
      await waitUntil(() => app.cache.current('db').versionId === second, { message: 'the named version in place' });
      expect(app.counting.reads.slice(before)).toEqual([{ SecretId: secret.arn, VersionId: second }]);

      // Roll back to the first version: AWSCURRENT moves back, the broadcast names it.
      await fixture.secrets.moveCurrent(secret, first);
      before = app.counting.reads.length;
      await publish(first);
      await waitUntil(() => app.cache.current('db').versionId === first, { message: 'the roll-back in place' });
      expect(app.counting.reads.slice(before)).toEqual([{ SecretId: secret.arn, VersionId: first }]);
      expect(app.rotations.map((rotation) => rotation.versionId)).toEqual([second, first]);
      expect(app.cache.get<{ password: string }>('db').password).toBe(JSON.parse(secret.values[0] ?? '{}').password);
    } finally {
      publisher.disconnect();
    }
  });

  it('an unsigned or forged invalidation is rejected and fetches nothing', async () => {
    const secret = await fixture.createSecret();
    const [app] = await start(instance(fixture, { secrets: { db: { secretId: secret.name, json: true } } }));
    if (!app) throw new Error('no app');
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'subscribed' });
    const held = secret.versionId;
    const next = await fixture.secrets.rotate(secret);
    const before = app.counting.reads.length;
    const publisher = new Redis(fixture.redis.url);
    try {
      const unsigned = createInvalidation({ secretArn: secret.arn, secretName: secret.name, versionId: next, reason: 'forged', eventId: 'forged-1', eventTime: new Date().toISOString() });
      await publisher.publish('{rotation-relay}:invalidations', JSON.stringify(unsigned));
      await publisher.publish('{rotation-relay}:invalidations', JSON.stringify({ ...unsigned, sig: `v1=${'A'.repeat(43)}` }));
      await waitUntil(() => app.cache.status().counts.invalidationsRejected === 2, { message: 'both rejected' });
    } finally {
      publisher.disconnect();
    }
    expect(app.counting.reads.length).toBe(before);
    expect(app.cache.current('db').versionId).toBe(held);
    expect(app.cache.status().counts.invalidationsReceived).toBe(0);
  });

  it('two caches in one process: both have the invalidation in hand before either sends its read', async () => {
    const secret = await fixture.createSecret();
    const apps = await start(...[1, 2].map(() => instance(fixture, { secrets: { db: { secretId: secret.arn, json: true } } })));
    await waitUntil(() => apps.every((app) => app.cache.status().pubsub.connected), { message: 'both subscribed' });
    // For each read by VersionId: how many of the two caches had the invalidation in hand when it was sent.
    const inHandAtRead: number[] = [];
    const inHand = (): number => apps.filter((app) => app.cache.status().counts.invalidationsReceived > 0).length;
    for (const app of apps) {
      app.counting.client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'GetSecretValueCommand' && 'VersionId' in (args.input as object)) inHandAtRead.push(inHand());
          return next(args);
        },
        { step: 'initialize', name: 'inHandAtRead' },
      );
    }
    const next = await fixture.secrets.rotate(secret);
    const publisher = new Redis(fixture.redis.url);
    try {
      const invalidation = createInvalidation({ secretArn: secret.arn, secretName: secret.name, versionId: next, reason: 'test publish', eventId: 'two-caches', eventTime: new Date().toISOString() });
      await publishInvalidation(publisher, 'rotation-relay', signIfKeyed(invalidation, fixture.signingKeys));
      // Redis wrote both subscribers' messages before its reply to the publisher came back. Hold
      // this thread briefly so both sockets are readable in the same turn of the event loop — the
      // situation of several caches sharing a process, which this test is about.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    } finally {
      publisher.disconnect();
    }
    await waitUntil(() => apps.every((app) => app.cache.current('db').versionId === next), { message: 'both rotated' });
    // Neither cache's read (and the SDK's CPU to send it) ran between the two messages.
    expect(inHandAtRead).toEqual([2, 2]);
  });

  it('after a failed login read AWSPENDING, the signed broadcast naming it installs it without reading it again', async () => {
    const secret = await fixture.createSecret();
    const [app] = await start(instance(fixture, { secrets: { db: { secretId: secret.arn, json: true } } }));
    if (!app) throw new Error('no app');
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'subscribed' });
    const publisher = new Redis(fixture.redis.url);
    const broadcast = (versionId: string, eventId: string, publishedAt = Date.now()) =>
      signIfKeyed(
        createInvalidation({ secretArn: secret.arn, secretName: secret.name, versionId, reason: 'test publish', eventId, eventTime: new Date().toISOString() }, () => publishedAt),
        fixture.signingKeys,
      );
    try {
      // setSecret: the client's login fails and it reads AWSPENDING; finishSecret moves AWSCURRENT.
      const next = await fixture.secrets.putPending(secret);
      let before = app.counting.reads.length;
      expect((await app.cache.pending('db'))?.versionId).toBe(next);
      await fixture.secrets.moveCurrent(secret, next);
      await publishInvalidation(publisher, 'rotation-relay', broadcast(next, 'pending-1'));
      await waitUntil(() => app.cache.current('db').versionId === next, { message: 'the AWSPENDING version in place' });
      expect(app.counting.reads.slice(before)).toEqual([{ SecretId: secret.arn, VersionStage: 'AWSPENDING' }]);
      expect(app.cache.get<{ password: string }>('db').password).toBe(JSON.parse(secret.values.at(-1) ?? '{}').password);

      // A broadcast published before the AWSPENDING read proves nothing about it: read as before.
      const third = await fixture.secrets.putPending(secret);
      const early = broadcast(third, 'pending-2', Date.now() - 1_000);
      before = app.counting.reads.length;
      expect((await app.cache.pending('db'))?.versionId).toBe(third);
      await fixture.secrets.moveCurrent(secret, third);
      await publishInvalidation(publisher, 'rotation-relay', early);
      await waitUntil(() => app.cache.current('db').versionId === third, { message: 'the named version in place' });
      expect(app.counting.reads.slice(before)).toEqual([
        { SecretId: secret.arn, VersionStage: 'AWSPENDING' },
        { SecretId: secret.arn, VersionId: third },
      ]);
    } finally {
      publisher.disconnect();
    }
  });

  it('with the worker stopped, the poll alone picks a rotation up and counts MissedByEvents', async () => {
    await worker.stop();
    const secret = await fixture.createSecret();
    const [app] = await start(instance(fixture, { secrets: { db: { secretId: secret.name, json: true } }, pollIntervalMs: 300, missedByEventsGraceMs: 200 }));
    if (!app) throw new Error('no app');

    const next = await fixture.secrets.rotate(secret);

    await waitUntil(() => app.cache.current('db').versionId === next, { message: 'the poll to find the new version', timeoutMs: 5_000 });
    await waitUntil(() => app.cache.status().counts.missedByEvents > 0, { message: 'the grace period to expire', timeoutMs: 2_000 });
    const status = app.cache.status();
    expect(status.counts.missedByEvents).toBe(1);
    expect(status.counts.invalidationsReceived).toBe(0);
    expect(app.rotations).toEqual([expect.objectContaining({ versionId: next, trigger: 'poll' })]);
    expect(app.logs.records().some((record) => record['level'] === 'warn' && String(record['msg']).includes('no invalidation announced'))).toBe(true);
  });

  it('holds two Redis connections (pub/sub + versions) and stop() closes both', async () => {
    const admin = new Redis(fixture.redis.url);
    const named = async () => {
      const list = String(await admin.call('CLIENT', 'LIST'));
      return list.split('\n').filter((line) => /name=rotation-relay:listener(:\S+)? /.test(line)).length;
    };
    try {
      const before = await named();
      const secret = await fixture.createSecret();
      const [app] = await start(instance(fixture, { secrets: { db: { secretId: secret.name, json: true } } }));
      if (!app) throw new Error('no app');
      // The versions connection is opened by the first reconcile, right after subscribing.
      await waitUntil(async () => (await named()) === before + 2, { message: 'both connections open' });
      await app.cache.stop();
      await app.cache.stop();
      await waitUntil(async () => (await named()) === before, { message: 'both connections closed' });
      expect(app.cache.status()).toMatchObject({ running: false, pubsub: { connected: false } });
    } finally {
      admin.disconnect();
    }
  });

  it('no status() and no log line of these tests holds a secret value', () => {
    const values = fixture.created.flatMap((secret) => secret.values);
    expect(values.length).toBeGreaterThanOrEqual(8);
    const text = [
      ...instances.flatMap((app) => [JSON.stringify(app.cache.status()), ...app.logs.lines()]),
      ...fixture.logs.lines(),
    ].join('\n');
    expect(instances.every((app) => app.logs.lines().length > 0)).toBe(true);
    expect(leakedValues(text, values)).toEqual([]);
  });
});
