import { randomBytes } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountSubscribers, NotConvergedError, readChannel, readFleet, waitConverged } from '../../../src/sdk/fleet/index.js';
import { createCredentialCache, type CredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import { InvalidationListener } from '../../../src/sdk/cache/invalidation-listener.js';
import type { CredentialCacheOptions } from '../../../src/sdk/cache/types.js';
import { runCliProcess, type CliProcess } from '../../support/cli-process.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { captureLogger } from '../../support/log-capture.js';
import { MotoSecrets, type TestSecret } from '../../support/moto-secrets.js';
import { motoClientConfig, startMoto, type MotoHandle } from '../../support/moto-server.js';
import { startRedisCluster, type RedisClusterHandle } from '../../support/redis-cluster.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { waitUntil } from '../../support/wait-until.js';
import { launchCacheInstance, readyInstanceId } from '../../support/cache-instance/launch.js';

const PREFIX = 'rotation-relay';
const CHANNEL = '{rotation-relay}:invalidations';
const signingKey = randomBytes(32).toString('base64url');
registerSecretValue(signingKey, 'unaccounted-subscribers signing key');

const cli = async (args: string[], env: Record<string, string>): Promise<{ code: number | string; out: string }> => {
  const p = runCliProcess(args, env);
  const code = await p.exited;
  return { code, out: p.stdout().join('\n') };
};

function cacheOn(moto: MotoHandle, secret: TestSecret, redis: CredentialCacheOptions['redis'], presence: CredentialCacheOptions['presence']): CredentialCache {
  return createCredentialCache({
    redis,
    signingKeys: [signingKey],
    secretsClient: new SecretsManagerClient(motoClientConfig(moto)),
    logger: captureLogger({ component: 'cache' }).logger,
    secrets: { db: { secretId: secret.arn, json: true } },
    ...(presence !== undefined ? { presence } : {}),
  });
}

/** A subscriber that writes no presence, pinned to one Redis node, under a connection name of our choosing. */
async function plainListener(url: string, connectionName?: string): Promise<InvalidationListener> {
  const listener = new InvalidationListener({ redis: { url, cluster: false, keyPrefix: PREFIX }, signingKeys: [signingKey], ...(connectionName ? { connectionName } : {}) });
  // On a cluster node that does not own the versions hash its reconcile is MOVED: not the point here.
  listener.on('error', () => undefined);
  await listener.start();
  return listener;
}

describe('subscribers that report no presence, on one redis-server', () => {
  let redis: RedisHandle;
  let moto: MotoHandle;
  let admin: Redis;
  let secret: TestSecret;
  const caches: CredentialCache[] = [];
  const listeners: InvalidationListener[] = [];
  const processes: CliProcess[] = [];
  const env = () => ({ ROTATION_RELAY_REDIS_URL: redis.url });

  beforeAll(async () => {
    [redis, moto] = await Promise.all([startRedis(), startMoto()]);
    admin = new Redis(redis.url);
    secret = await new MotoSecrets(moto).create(`fleet/db-${randomBytes(3).toString('hex')}`);
  }, 60_000);

  afterAll(async () => {
    for (const p of processes) p.signal('SIGKILL');
    await Promise.allSettled([...caches.map((c) => c.stop()), ...listeners.map((l) => l.stop())]);
    admin?.disconnect();
    await Promise.allSettled([redis?.stop(), moto?.stop()]);
  });

  it('counts a CredentialCache with presence: false as unaccounted for: status names it, wait-converged exits 3 until it leaves', async () => {
    // Prepare
    const visible = cacheOn(moto, secret, { url: redis.url, cluster: false, keyPrefix: PREFIX }, { instanceId: 'visible-1', heartbeatIntervalMs: 300, ttlMs: 3_000 });
    const invisible = cacheOn(moto, secret, { url: redis.url, cluster: false, keyPrefix: PREFIX }, false);
    caches.push(visible, invisible);
    await Promise.all([visible.start(), invisible.start()]);
    await waitUntil(() => visible.status().pubsub.connected && invisible.status().pubsub.connected, { message: 'both subscribed' });
    await waitUntil(async () => (await readFleet(admin, PREFIX)).live.length === 1, { message: 'the visible one to register' });

    // Act
    const status = await cli(['status'], env());
    const blocked = await cli(['wait-converged', secret.arn, '--version', secret.versionId, '--timeout', '1s', '--poll', '200ms'], env());
    const tolerated = await cli(['wait-converged', secret.arn, '--version', secret.versionId, '--timeout', '1s', '--allow-unaccounted', '1'], env());
    await invisible.stop();
    const converged = await cli(['wait-converged', secret.arn, '--version', secret.versionId, '--timeout', '10s', '--poll', '200ms', '--json'], env());

    // Assess
    expect(status.out.split('\n')[1]).toBe('2 subscribers on the channel, 1 report presence (1 unaccounted for)');
    expect(status.out).toMatch(/Subscribers that report no presence \(usually a subscriber ACL without the presence rights[^]*rotation-relay:listener\s+127\.0\.0\.1:\d+\s+127\.0\.0\.1:\d+/);
    expect(blocked.code).toBe(3);
    expect(blocked.out).toMatch(/^not converged after .*: 1 of the 2 subscribers on \{rotation-relay\}:invalidations reports no presence \(rotation-relay:listener from 127\.0\.0\.1:\d+ on 127\.0\.0\.1:\d+\): usually/);
    expect(tolerated.code).toBe(0);
    expect(converged.code).toBe(0);
    expect(JSON.parse(converged.out)).toMatchObject({ converged: true, instances: 1, subscribers: { subscribers: 1, reporting: 1, unaccounted: 0 } });
    await visible.stop();
  }, 60_000);

  it('names a subscriber that counts alone would hide behind a crashed instance whose presence has not expired', async () => {
    // Prepare: a live instance, one that crashes (its presence outlives it by a minute), and a
    // listener named like a CredentialCache that writes no presence.
    const alive = cacheOn(moto, secret, { url: redis.url, cluster: false, keyPrefix: PREFIX }, { instanceId: 'alive-1', heartbeatIntervalMs: 300, ttlMs: 3_000 });
    caches.push(alive);
    await alive.start();
    const crashing = launchCacheInstance({
      aws: { ...motoClientConfig(moto) },
      redisUrl: redis.url,
      signingKeys: [signingKey],
      secrets: { db: secret.arn },
      presence: { instanceId: 'crashed-1', heartbeatIntervalMs: 300, ttlMs: 60_000 },
    });
    processes.push(crashing);
    await readyInstanceId(crashing);
    await waitUntil(async () => (await readFleet(admin, PREFIX)).live.some((i) => i.id === 'crashed-1'), { message: 'the crashing instance to register' });
    crashing.signal('SIGKILL');
    await crashing.exited;
    const ghost = await plainListener(redis.url, 'rotation-relay:listener:ghost-1');
    listeners.push(ghost);
    const channelCount = async () => ((await admin.pubsub('NUMSUB', CHANNEL)) as [string, number])[1];
    await waitUntil(async () => (await channelCount()) === 2, { message: 'the crashed connection to close and the ghost to subscribe' });

    // Act
    const reading = await readChannel(admin, PREFIX);
    const fleet = await readFleet(admin, PREFIX);
    const byCounts = accountSubscribers({ channel: reading.channel, nodes: reading.nodes }, fleet);
    const status = await cli(['status', '--json'], env());
    const refused = await waitConverged({ redis: admin, secretArn: secret.arn, versionId: secret.versionId, timeoutMs: 1_000, pollMs: 100 }).catch((error: unknown) => error);
    await ghost.stop();
    const converged = await waitConverged({ redis: admin, secretArn: secret.arn, versionId: secret.versionId, timeoutMs: 10_000, pollMs: 100 });

    // Assess
    expect(fleet.live.map((i) => i.id).sort()).toEqual(['alive-1', 'crashed-1']);
    expect(byCounts).toMatchObject({ subscribers: 2, reporting: 2, unaccounted: 0 });
    expect(JSON.parse(status.out).subscribers).toMatchObject({
      subscribers: 2,
      reporting: 2,
      unaccounted: 1,
      method: 'client-list',
      candidates: [expect.objectContaining({ name: 'rotation-relay:listener:ghost-1', instanceId: 'ghost-1' })],
      reportingWithoutConnection: ['crashed-1'],
    });
    expect(refused).toBeInstanceOf(NotConvergedError);
    expect((refused as NotConvergedError).reason).toBe('unaccounted-subscribers');
    expect(converged.subscribers).toMatchObject({ subscribers: 1, unaccounted: 0, reportingWithoutConnection: ['crashed-1'] });
    await alive.stop();
  }, 60_000);
});

describe('subscribers on a Redis Cluster of 3 masters: PUBSUB NUMSUB summed over the nodes', () => {
  let cluster: RedisClusterHandle;
  let moto: MotoHandle;
  let reader: Cluster;
  let secret: TestSecret;
  const caches: CredentialCache[] = [];
  const pinned: InvalidationListener[] = [];

  beforeAll(async () => {
    [cluster, moto] = await Promise.all([startRedisCluster({ masters: 3 }), startMoto()]);
    secret = await new MotoSecrets(moto).create(`cluster/db-${randomBytes(3).toString('hex')}`);
    for (let node = 0; node < 3; node += 1) {
      caches.push(cacheOn(moto, secret, { url: cluster.url(node), cluster: true, keyPrefix: PREFIX }, { instanceId: `cluster-app-${node}`, heartbeatIntervalMs: 300, ttlMs: 3_000 }));
    }
    await Promise.all(caches.map((cache) => cache.start()));
    await waitUntil(() => caches.every((cache) => cache.status().pubsub.connected), { message: 'every cache subscribed' });
    // One subscriber without presence pinned to each node: whichever node answers, one NUMSUB alone misses some.
    for (let node = 0; node < 3; node += 1) pinned.push(await plainListener(cluster.url(node)));
    reader = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0]?.port ?? 0 }]);
    await waitUntil(() => reader.status === 'ready', { message: 'the reading cluster client' });
    await waitUntil(async () => (await readFleet(reader, PREFIX)).live.length === 3, { message: 'every cache to register' });
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([...caches.map((c) => c.stop()), ...pinned.map((l) => l.stop())]);
    reader?.disconnect();
    await Promise.allSettled([cluster?.stop(), moto?.stop()]);
  });

  it('counts the subscribers of every node, matches the caches by their cluster connection names, and refuses until the others leave', async () => {
    // Prepare
    const env = { ROTATION_RELAY_REDIS_URL: cluster.url(1), ROTATION_RELAY_REDIS_CLUSTER: 'true' };

    // Act
    const reading = await readChannel(reader, PREFIX);
    const account = accountSubscribers(reading, await readFleet(reader, PREFIX));
    const status = await cli(['status'], env);
    const refused = await waitConverged({ redis: reader, secretArn: secret.arn, versionId: secret.versionId, timeoutMs: 1_000, pollMs: 100 }).catch((error: unknown) => error);
    const refusedCli = await cli(['wait-converged', secret.arn, '--version', secret.versionId, '--timeout', '1s'], env);
    await Promise.all(pinned.map((listener) => listener.stop()));
    const converged = await waitConverged({ redis: reader, secretArn: secret.arn, versionId: secret.versionId, timeoutMs: 10_000, pollMs: 100, minInstances: 3 });
    const convergedCli = await cli(['wait-converged', secret.arn, '--version', secret.versionId, '--timeout', '10s', '--json'], env);

    // Assess
    const counts = reading.nodes.map((n) => n.subscribers ?? -1);
    expect(counts).toHaveLength(3);
    expect(counts.every((n) => n >= 1)).toBe(true);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(6);
    expect(Math.max(...counts)).toBeLessThan(6);
    expect(account).toMatchObject({ subscribers: 6, complete: true, reporting: 3, unaccounted: 3, method: 'client-list', reportingWithoutConnection: [] });
    expect(account.candidates).toHaveLength(3);
    expect(new Set(account.candidates.map((c) => c.node)).size).toBe(3);
    expect(status.out).toContain('6 subscribers on the channel, 3 report presence (3 unaccounted for)');
    expect(refused).toBeInstanceOf(NotConvergedError);
    expect((refused as NotConvergedError).reason).toBe('unaccounted-subscribers');
    expect(refusedCli.code).toBe(3);
    expect(converged).toMatchObject({ converged: true, instances: 3, subscribers: { subscribers: 3, unaccounted: 0, complete: true } });
    expect(convergedCli.code).toBe(0);
    expect(JSON.parse(convergedCli.out)).toMatchObject({ subscribers: { subscribers: 3, reporting: 3, unaccounted: 0 } });
    process.stdout.write(`[fleet] cluster NUMSUB per node: ${JSON.stringify(reading.nodes)}\n`);
  }, 90_000);
});
