import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocolKeys, readPublishedVersions, type Invalidation } from '../../../src/protocol/index.js';
import { InvalidationListener } from '../../../src/sdk/cache/invalidation-listener.js';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import type { TestSecret } from '../../support/moto-secrets.js';
import { startRedisCluster, type RedisClusterHandle } from '../../support/redis-cluster.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';
import { instance, type Instance } from '../../support/subscribed-cache.js';

const PREFIX = 'rotation-relay';
const KEYS = protocolKeys(PREFIX);

/**
 * Redis Cluster (3 masters on loopback, test/support/redis-cluster.ts): the worker's Lua publish
 * (every key under the `{rotation-relay}` hash tag, so one shard runs it), subscribers behind
 * different nodes, and the master owning that slot crashing and coming back mid-run.
 */
describe('Redis Cluster: 3 masters, worker with ROTATION_RELAY_REDIS_CLUSTER=true, CredentialCaches with cluster: true', () => {
  let fixture: RelayFixture;
  let cluster: RedisClusterHandle;
  let outcomes: MessageOutcome[];
  const retries: Error[] = [];
  const apps: Instance[] = [];
  const nodeListeners: Array<{ listener: InvalidationListener; received: Invalidation[] }> = [];
  const secrets: TestSecret[] = [];

  beforeAll(async () => {
    [fixture, cluster] = await Promise.all([RelayFixture.start(), startRedisCluster({ masters: 3 })]);
    for (let i = 0; i < 4; i += 1) secrets.push(await fixture.createSecret('cluster/db'));
    const started = await fixture.startWorker({ ROTATION_RELAY_REDIS_URL: cluster.url(0), ROTATION_RELAY_REDIS_CLUSTER: 'true' });
    outcomes = started.outcomes;
    started.worker.on('retry', (error) => retries.push(error));
    // One cache per seed node, each holding all four secrets.
    for (let node = 0; node < 3; node += 1) {
      const app = instance(
        fixture,
        {
          secrets: Object.fromEntries(secrets.map((secret, i) => [`s${i}`, { secretId: secret.name, json: true }])),
          redis: { url: cluster.url(node), cluster: true, keyPrefix: PREFIX },
          backoff: { minMs: 100, maxMs: 1_000 },
        },
      );
      apps.push(app);
    }
    await Promise.all(apps.map((app) => app.cache.start()));
    await waitUntil(() => apps.every((app) => app.cache.status().pubsub.connected), { message: 'every cache subscribed through its seed node' });
    // And one plain subscriber pinned to each node: a broadcast must reach every node of the cluster.
    for (let node = 0; node < 3; node += 1) {
      const listener = new InvalidationListener({ redis: { url: cluster.url(node), cluster: false, keyPrefix: PREFIX }, signingKeys: fixture.signingKeys });
      const received: Invalidation[] = [];
      listener.on('invalidation', (invalidation) => received.push(invalidation));
      listener.on('error', () => undefined);
      await listener.start();
      nodeListeners.push({ listener, received });
    }
  });

  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app.cache.stop()));
    await Promise.allSettled(nodeListeners.map(({ listener }) => listener.stop()));
    await fixture?.stop();
    await cluster?.stop();
  });

  async function rotateAndSend(secret: TestSecret): Promise<string> {
    const version = await fixture.secrets.rotate(secret);
    await fixture.send(labelUpdatedEvent(secret.arn, version));
    return version;
  }

  /** Every cache holds, for every secret, the version AWSCURRENT has in Secrets Manager. */
  const allCurrent = () => apps.every((app) => secrets.every((secret, i) => app.cache.current(`s${i}`).versionId === secret.versionId));

  it('publishes through the Lua script on the shard owning {rotation-relay}; subscribers on every node receive every invalidation', async () => {
    for (const secret of secrets) await rotateAndSend(secret);

    await waitUntil(allCurrent, { message: 'every cache on every new version', timeoutMs: 20_000 });
    await waitUntil(() => nodeListeners.every(({ received }) => received.length >= secrets.length), { message: 'every node to deliver every broadcast' });
    for (const { received } of nodeListeners) {
      expect(received.map((i) => [i.secretArn, i.versionId]).sort()).toEqual(secrets.map((s) => [s.arn, s.versionId]).sort());
    }
    for (const app of apps) expect(app.cache.status().counts).toMatchObject({ invalidationsReceived: secrets.length, invalidationsRejected: 0 });
    expect(outcomes.filter((o) => o.kind === 'published')).toHaveLength(secrets.length);
    // All protocol keys live on one master: the one owning the hash tag's slot.
    const owner = await cluster.ownerOf(KEYS.versions);
    expect(await cluster.ownerOf(KEYS.channel)).toBe(owner);
    expect(await cluster.ownerOf(KEYS.event('any-event-id'))).toBe(owner);
    const direct = new Redis(cluster.url(owner));
    const reader = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[(owner + 1) % 3]?.port ?? 0 }]);
    try {
      expect(await direct.hlen(KEYS.versions)).toBe(secrets.length);
      const published = await readPublishedVersions(reader, PREFIX);
      for (const secret of secrets) expect(published.get(secret.arn)?.versionId).toBe(secret.versionId);
    } finally {
      direct.disconnect();
      reader.disconnect();
    }
  });

  it('survives the restart of the master that owns the hash-tag slot mid-run without losing an invalidation', async () => {
    const owner = await cluster.ownerOf(KEYS.versions);
    const node = cluster.nodes[owner];
    if (!node) throw new Error('no owner node');
    const [first, second, third, fourth] = secrets as [TestSecret, TestSecret, TestSecret, TestSecret];
    await rotateAndSend(first);
    await waitUntil(allCurrent, { message: 'the first rotation everywhere before the crash' });
    const retriesBefore = retries.length;

    await node.kill(); // SIGKILL: a crash; its data (versions hash, dedupe keys) is gone with it
    const duringOutage = [await rotateAndSend(second), await rotateAndSend(third)];
    await waitUntil(() => retries.length >= retriesBefore + 2, { message: 'the worker to fail (and keep) the messages while the master is down', timeoutMs: 15_000 });
    for (const app of apps) {
      expect(app.cache.current('s1').versionId).not.toBe(duringOutage[0]);
      expect(() => app.cache.get('s1')).not.toThrow();
    }
    await node.start();
    await cluster.waitHealthy();
    await rotateAndSend(fourth);

    await waitUntil(allCurrent, { message: 'every cache on every final version after the restart', timeoutMs: 30_000 });
    for (const app of apps) {
      const triggers = app.rotations.filter((r) => r.name === 's1' || r.name === 's2').map((r) => r.trigger);
      expect(triggers.every((trigger) => trigger === 'invalidation' || trigger === 'reconcile')).toBe(true);
    }
    process.stdout.write(
      `[cluster restart] master :${node.port} (slot owner) killed and restarted; worker retries: ${retries.length - retriesBefore}; ` +
        `caches converged via ${apps.map((app) => app.rotations.filter((r) => r.name === 's1').map((r) => r.trigger).join('+')).join(', ')}\n`,
    );
  });
});
