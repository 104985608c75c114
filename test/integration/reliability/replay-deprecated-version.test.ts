import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocolKeys } from '../../../src/protocol/index.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';
import { instance, type Instance } from '../subscriber/cache-support.js';

const KEYS = protocolKeys('rotation-relay');

/**
 * Regression (found by this suite as replay-unlabelled-version.bug.test.ts; fixed in
 * src/subscriber/refresher.ts, commit 9e7a516): a genuine, signed invalidation replayed within the
 * replay window that names a version two rotations old must not install that old credential.
 *
 * Such a version has lost every staging label (AWSPREVIOUS moved on), and AWS keeps it readable by
 * VersionId until it deletes it; moto answers its GetSecretValue with `VersionStages: []`. The
 * subscriber used to adopt a named version whose stages were empty ("nothing to judge by"); it now
 * adopts one only when it carries AWSCURRENT, and otherwise reads AWSCURRENT. The same path serves
 * reconcile entries, so an old genuine entry written back into `{P}:versions` is covered too.
 */
describe('a replayed genuine invalidation naming a deprecated (unlabelled) version', () => {
  let fixture: RelayFixture;
  let publisher: Redis;
  let app: Instance;

  beforeAll(async () => {
    fixture = await RelayFixture.start();
    await fixture.startWorker();
    publisher = new Redis(fixture.redis.url);
  });

  afterAll(async () => {
    await app?.cache.stop();
    publisher?.disconnect();
    await fixture?.stop();
  });

  it('costs a re-fetch and never installs the old credential', async () => {
    const secret = await fixture.createSecret('replay/deprecated');
    app = instance(fixture, { secrets: { db: { secretId: secret.name, json: true } }, consistencyWindowMs: 300 });
    await app.cache.start();
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'subscribed' });
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
    const refreshes = app.cache.status().secrets['db']?.refreshes ?? 0;

    // `old` has no label any more (AWSPREVIOUS is on the version after it); its message is replayed.
    await publisher.publish(KEYS.channel, captured);

    await waitUntil(() => (app.cache.status().secrets['db']?.refreshes ?? 0) > refreshes, { message: 'the replay to be handled' });
    expect(app.cache.current('db').versionId).not.toBe(old);
    expect(app.cache.current('db').versionId).toBe(current);
    expect(app.cache.get('db')).toEqual(JSON.parse(secret.values.at(-1) ?? '{}'));
  });
});
