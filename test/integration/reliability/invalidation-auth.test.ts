import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createInvalidation,
  parseInvalidation,
  protocolKeys,
  serializeInvalidation,
  signInvalidation,
  verifyInvalidation,
  type Invalidation,
} from '../../../src/protocol/index.js';
import type { RelayWorker } from '../../../src/relay/worker/relay-worker.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import type { TestSecret } from '../../support/moto-secrets.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';
import { instance, type Instance } from '../../support/subscribed-cache.js';

const KEYS = protocolKeys('rotation-relay');
const newKey = () => {
  const key = randomBytes(32).toString('base64url');
  registerSecretValue(key, 'a signing key of invalidation-auth.test.ts');
  return key;
};

/**
 * Failure contract, "forged/replayed invalidation → rejected when signing is on; at worst a
 * re-fetch, never a wrong credential", and the signing-key rotation procedure of docs/protocol.md,
 * on real services (redis-server, moto_server, fauxqs, the real worker and CredentialCaches).
 * Hostile messages are PUBLISHed straight onto the channel, as anyone with publish access to
 * Redis could.
 */
describe('invalidation authenticity: forged, unsigned, old-key and replayed messages; key rotation', () => {
  let fixture: RelayFixture;
  let publisher: Redis;
  let worker: RelayWorker | undefined;
  const keys = { old: '', current: '', attacker: '' };
  const instances: Instance[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start();
    keys.old = fixture.signingKeys[0] ?? '';
    keys.current = newKey();
    keys.attacker = newKey();
    publisher = new Redis(fixture.redis.url);
  });

  afterAll(async () => {
    await Promise.allSettled(instances.map((app) => app.cache.stop()));
    publisher?.disconnect();
    await fixture?.stop();
  });

  /** (Re)starts the worker signing with `signingKeys` (current first), as a deploy would. */
  async function runWorker(signingKeys: string[]): Promise<void> {
    await worker?.stop();
    ({ worker } = await fixture.startWorker({ ROTATION_RELAY_SIGNING_KEYS: signingKeys.join(',') }));
  }

  async function startApp(secret: TestSecret, options: { signingKeys: string[]; maxAgeMs?: number; consistencyWindowMs?: number }): Promise<Instance> {
    const app = instance(fixture, { secrets: { db: { secretId: secret.name, json: true } }, ...options });
    instances.push(app);
    await app.cache.start();
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'the cache subscribed' });
    return app;
  }

  /** Rotates in Secrets Manager and lets the worker publish it; resolves with the new version. */
  async function rotateAndPublish(secret: TestSecret): Promise<string> {
    const version = await fixture.secrets.rotate(secret);
    await fixture.send(labelUpdatedEvent(secret.arn, version));
    return version;
  }

  function hostile(secret: TestSecret, versionId: string, signWith?: string): string {
    const message = createInvalidation({ secretArn: secret.arn, secretName: secret.name, versionId, reason: 'hostile', eventId: `hostile-${randomBytes(4).toString('hex')}`, eventTime: new Date().toISOString() });
    return serializeInvalidation(signWith === undefined ? message : signInvalidation(message, [signWith]));
  }

  const rejectedCodes = (app: Instance) => app.logs.records().filter((record) => record['msg'] === 'invalidation rejected').map((record) => record['code']);
  const valueOf = (secret: TestSecret, index: number) => JSON.parse(secret.values.at(index) ?? '{}') as { password: string };

  it('rejects and counts unsigned, forged, old-key, tampered and replayed messages; fetches nothing, keeps its credential', async () => {
    // The signing key was rotated and the old one removed everywhere: worker and app hold `current` only.
    await runWorker([keys.current]);
    const secret = await fixture.createSecret('auth/db');
    const app = await startApp(secret, { signingKeys: [keys.current], maxAgeMs: 1_000 });
    const genuineVersion = await rotateAndPublish(secret);
    await waitUntil(() => app.cache.current('db').versionId === genuineVersion, { message: 'the genuine broadcast to be applied' });
    const genuine = (await publisher.hget(KEYS.versions, secret.arn)) ?? '';
    const genuineMessage = parseInvalidation(genuine);
    if (!genuineMessage.ok) throw new Error('the worker stored an unparseable message');
    // AWSCURRENT moves on without a broadcast: whatever is accepted next would make the app fetch.
    const lureVersion = await fixture.secrets.rotate(secret);
    const tampered = JSON.stringify({ ...(JSON.parse(genuine) as Invalidation), versionId: lureVersion });
    // The captured genuine message is replayed once it is older than the app's replay window.
    await waitUntil(() => Date.now() - Date.parse(genuineMessage.invalidation.publishedAt) > 1_100, { message: 'the captured message to age past maxAgeMs', timeoutMs: 5_000 });
    const readsBefore = app.counting.reads.length;
    const before = app.cache.status().counts;

    for (const raw of [
      hostile(secret, lureVersion),
      hostile(secret, lureVersion, keys.attacker),
      hostile(secret, lureVersion, keys.old),
      tampered,
      genuine,
    ]) {
      await publisher.publish(KEYS.channel, raw);
    }

    await waitUntil(() => app.cache.status().counts.invalidationsRejected === before.invalidationsRejected + 5, { message: 'all five rejected' });
    expect(rejectedCodes(app)).toEqual(['unsigned', 'bad-signature', 'bad-signature', 'bad-signature', 'too-old']);
    expect(app.cache.status().counts).toMatchObject({ invalidationsReceived: before.invalidationsReceived, invalidationsRejected: 5 });
    expect(app.counting.reads.length).toBe(readsBefore);
    expect(app.cache.current('db').versionId).toBe(genuineVersion);
    expect(app.cache.get('db')).toEqual(valueOf(secret, -2));
  });

  it('skips a forged entry written into the versions hash when it reconciles after a reconnect', async () => {
    const secret = await fixture.createSecret('auth/hash');
    const app = await startApp(secret, { signingKeys: [keys.current] });
    const held = app.cache.current('db').versionId;
    const lure = await fixture.secrets.rotate(secret);
    await publisher.hset(KEYS.versions, secret.arn, hostile(secret, lure, keys.attacker));
    let subscriptions = 0;
    app.cache.on('subscribed', () => (subscriptions += 1));
    const readsBefore = app.counting.reads.length;

    await publisher.call('CLIENT', 'KILL', 'TYPE', 'pubsub');

    await waitUntil(() => subscriptions >= 1, { message: 'the cache to resubscribe (and reconcile)' });
    await waitUntil(() => app.logs.records().some((record) => record['msg'] === 'versions hash entries skipped: corrupt or not signed with an accepted key'), {
      message: 'the reconcile to skip the forged entry',
    });
    expect(app.counting.reads.length).toBe(readsBefore);
    expect(app.cache.current('db').versionId).toBe(held);
  });

  it('a genuine message replayed within the window costs no read where it was handled, a re-fetch at worst elsewhere, never an old credential', async () => {
    const secret = await fixture.createSecret('auth/replay');
    const app = await startApp(secret, { signingKeys: [keys.current], consistencyWindowMs: 300 });
    const previous = await rotateAndPublish(secret);
    await waitUntil(() => app.cache.current('db').versionId === previous, { message: 'the first rotation applied' });
    const captured = (await publisher.hget(KEYS.versions, secret.arn)) ?? '';
    const current = await rotateAndPublish(secret);
    await waitUntil(() => app.cache.current('db').versionId === current, { message: 'the second rotation applied' });
    // Started after both broadcasts: the replay is news to it.
    const late = await startApp(secret, { signingKeys: [keys.current], consistencyWindowMs: 300 });
    const before = [app, late].map((cache) => ({ reads: cache.counting.reads.length, rotations: cache.rotations.length, counts: cache.cache.status().counts }));

    // The message that announced the previous version (now AWSPREVIOUS), replayed verbatim.
    await publisher.publish(KEYS.channel, captured);

    for (const [index, cache] of [app, late].entries()) {
      await waitUntil(() => cache.cache.status().counts.invalidationsReceived === (before[index]?.counts.invalidationsReceived ?? 0) + 1, { message: 'the replay to be accepted as genuine' });
    }
    // Its id was handled here: nothing is read.
    expect(app.counting.reads.length).toBe(before[0]?.reads);
    await waitUntil(() => late.counting.reads.length >= (before[1]?.reads ?? 0) + 2, { message: 'the re-fetch to finish' });
    expect(late.counting.reads.slice(before[1]?.reads)).toEqual([
      { SecretId: secret.name, VersionId: previous },
      { SecretId: secret.name, VersionStage: 'AWSCURRENT' },
    ]);
    for (const [index, cache] of [app, late].entries()) {
      expect(cache.cache.current('db').versionId).toBe(current);
      expect(cache.cache.get('db')).toEqual(valueOf(secret, -1));
      expect(cache.rotations.length).toBe(before[index]?.rotations);
    }
  });

  it('accepts a key rotation: subscribers holding [new, old] or [old, new] follow the worker from the old key to the new one', async () => {
    const rotationKeys = { old: newKey(), next: newKey() };
    const secret = await fixture.createSecret('auth/rotate');
    // Step 1 of the procedure: every subscriber gets the new key, in either position.
    const newFirst = await startApp(secret, { signingKeys: [rotationKeys.next, rotationKeys.old] });
    const oldFirst = await startApp(secret, { signingKeys: [rotationKeys.old, rotationKeys.next] });
    const apps = [newFirst, oldFirst];

    await runWorker([rotationKeys.old]);
    const underOld = await rotateAndPublish(secret);
    await waitUntil(() => apps.every((app) => app.cache.current('db').versionId === underOld), { message: 'both on the version signed with the old key' });
    const signedOld = (await publisher.hget(KEYS.versions, secret.arn)) ?? '';

    // Step 2: the worker signs with the new key first.
    await runWorker([rotationKeys.next, rotationKeys.old]);
    const underNew = await rotateAndPublish(secret);
    await waitUntil(() => apps.every((app) => app.cache.current('db').versionId === underNew), { message: 'both on the version signed with the new key' });
    const signedNew = (await publisher.hget(KEYS.versions, secret.arn)) ?? '';

    for (const app of apps) {
      expect(app.cache.status().counts).toMatchObject({ invalidationsReceived: 2, invalidationsRejected: 0 });
      expect(app.rotations.map((rotation) => [rotation.versionId, rotation.trigger])).toEqual([
        [underOld, 'invalidation'],
        [underNew, 'invalidation'],
      ]);
    }
    // What each broadcast was really signed with.
    expect(verifyInvalidation(signedOld, { keys: [rotationKeys.old], maxAgeMs: Infinity })).toMatchObject({ ok: true, signatureVerified: true });
    expect(verifyInvalidation(signedNew, { keys: [rotationKeys.next], maxAgeMs: Infinity })).toMatchObject({ ok: true, signatureVerified: true });
    expect(verifyInvalidation(signedNew, { keys: [rotationKeys.old], maxAgeMs: Infinity })).toMatchObject({ ok: false, code: 'bad-signature' });
  });
});
