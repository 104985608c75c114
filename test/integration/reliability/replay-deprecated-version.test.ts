import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocolKeys } from '../../../src/protocol/index.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';
import { instance, type Instance } from '../../support/subscribed-cache.js';

const KEYS = protocolKeys('rotation-relay');

/**
 * Regression (found by this suite as replay-unlabelled-version.bug.test.ts; fixed in
 * src/sdk/cache/refresher.ts, commit 9e7a516): a genuine, signed invalidation replayed within the
 * replay window that names a version two rotations old must not install that old credential.
 *
 * Such a version has lost every staging label (AWSPREVIOUS moved on), and AWS keeps it readable by
 * VersionId until it deletes it; moto answers its GetSecretValue with `VersionStages: []`. The
 * subscriber used to adopt a named version whose stages were empty ("nothing to judge by"); it now
 * adopts one only when it carries AWSCURRENT, and otherwise reads AWSCURRENT. The same path serves
 * reconcile entries, so an old genuine entry written back into `{P}:versions` is covered too.
 *
 * Since issue 13 a replay costs no read at all where the broadcast was handled (its id is
 * remembered), and a re-fetch at worst where it was not: a cache started after the broadcast reads
 * the version by id and AWSCURRENT once, and then remembers the id (and that the version is not
 * current), so replaying it again costs nothing.
 */
describe('a replayed genuine invalidation naming a deprecated (unlabelled) version', () => {
  let fixture: RelayFixture;
  let publisher: Redis;
  const apps: Instance[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start();
    await fixture.startWorker();
    publisher = new Redis(fixture.redis.url);
  });

  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app.cache.stop()));
    publisher?.disconnect();
    await fixture?.stop();
  });

  async function startApp(secretName: string): Promise<Instance> {
    const app = instance(fixture, { secrets: { db: { secretId: secretName, json: true } }, consistencyWindowMs: 300 });
    apps.push(app);
    await app.cache.start();
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'subscribed' });
    return app;
  }

  it('costs no read where it was handled, a re-fetch at worst where it was not, and never installs the old credential', async () => {
    const secret = await fixture.createSecret('replay/deprecated');
    const app = await startApp(secret.name);
    const rotateAndWait = async (): Promise<string> => {
      const version = await fixture.secrets.rotate(secret);
      await fixture.send(labelUpdatedEvent(secret.arn, version));
      await waitUntil(() => app.cache.current('db').versionId === version, { message: `version ${version} applied` });
      return version;
    };
    const old = await rotateAndWait();
    const captured = (await publisher.hget(KEYS.versions, secret.arn)) ?? '';
    await rotateAndWait();
    const current = await rotateAndWait();
    // Started after every broadcast: the replay is news to it.
    const late = await startApp(secret.name);
    const before = [app, late].map((cache) => ({ reads: cache.counting.reads.length, received: cache.cache.status().counts.invalidationsReceived }));

    // `old` has no label any more (AWSPREVIOUS is on the version after it); its message is replayed.
    await publisher.publish(KEYS.channel, captured);

    for (const [index, cache] of [app, late].entries()) {
      await waitUntil(() => cache.cache.status().counts.invalidationsReceived > (before[index]?.received ?? 0), { message: 'the replay to be accepted as genuine' });
    }
    await waitUntil(() => late.counting.reads.length >= (before[1]?.reads ?? 0) + 2, { message: 'the late cache to re-fetch' });
    // Handled live: the id is known, so nothing was even asked for.
    expect(app.counting.reads.length).toBe(before[0]?.reads);
    expect(late.counting.reads.slice(before[1]?.reads)).toEqual([
      { SecretId: secret.name, VersionId: old },
      { SecretId: secret.name, VersionStage: 'AWSCURRENT' },
    ]);
    for (const cache of [app, late]) {
      expect(cache.cache.current('db').versionId).not.toBe(old);
      expect(cache.cache.current('db').versionId).toBe(current);
      expect(cache.cache.get('db')).toEqual(JSON.parse(secret.values.at(-1) ?? '{}'));
    }

    // Replayed again: the late cache now knows the id too.
    const receivedLate = late.cache.status().counts.invalidationsReceived;
    const readsLate = late.counting.reads.length;
    await publisher.publish(KEYS.channel, captured);
    await waitUntil(() => late.cache.status().counts.invalidationsReceived > receivedLate, { message: 'the second replay to be accepted' });
    expect(late.counting.reads.length).toBe(readsLate);
    expect(late.cache.current('db').versionId).toBe(current);
  });
});
