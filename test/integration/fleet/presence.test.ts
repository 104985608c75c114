import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convergenceOf, NotConvergedError, readFleet, readFleetStatus, waitConverged } from '../../../src/sdk/fleet/index.js';
import { protocolKeys, readPublishedVersion } from '../../../src/protocol/index.js';
import { RelayWorker } from '../../../src/relay/worker/relay-worker.js';
import { runCliProcess, type CliProcess } from '../../support/cli-process.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { rotationEvents } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';
import { instance, type Instance } from '../../support/subscribed-cache.js';
import type { CacheInstanceConfig } from '../../support/cache-instance/main.js';
import { launchCacheInstance, readyInstanceId } from '../../support/cache-instance/launch.js';
import { startFreezeProxyDouble, type FreezeProxyDouble } from '../../support/freeze-proxy-double.js';

const PREFIX = 'rotation-relay';

/**
 * Fleet presence on real services: caches heartbeat and ack into a private redis-server, the real
 * worker relays rotations from fauxqs, Secrets Manager is moto_server. Short heartbeats and TTLs
 * keep the test fast; the code paths are the production ones.
 */
describe('fleet presence and acks (moto + redis + fauxqs + worker)', () => {
  let fixture: RelayFixture;
  let redis: Redis;
  const apps: Instance[] = [];
  const processes: CliProcess[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start();
    await fixture.startWorker();
    redis = new Redis(fixture.redis.url);
  });

  afterAll(async () => {
    for (const p of processes) p.signal('SIGKILL');
    await Promise.allSettled(apps.map((app) => app.cache.stop()));
    redis?.disconnect();
    await fixture?.stop();
  });

  const cliEnv = (): Record<string, string> => ({ ROTATION_RELAY_REDIS_URL: fixture.redis.url });

  async function startApp(secretId: string, presence: { heartbeatIntervalMs: number; ttlMs: number }, redisUrl?: string): Promise<Instance & { id: string }> {
    const app = instance(fixture, { secrets: { db: { secretId, json: true } }, presence }, redisUrl);
    apps.push(app);
    await app.cache.start();
    const id = app.cache.status().presence?.instanceId;
    if (!id) throw new Error('presence is off');
    return Object.assign(app, { id });
  }

  function spawnInstance(secretArn: string, presence: { heartbeatIntervalMs: number; ttlMs: number }): CliProcess {
    const config: CacheInstanceConfig = {
      aws: { endpoint: fixture.moto.endpoint, region: fixture.moto.region, credentials: { ...fixture.moto.credentials } },
      redisUrl: fixture.redis.url,
      signingKeys: fixture.signingKeys,
      secrets: { db: secretArn },
      presence,
    };
    const child = launchCacheInstance(config);
    processes.push(child);
    return child;
  }

  const readyId = readyInstanceId;

  async function rotateThroughWorker(secret: Awaited<ReturnType<RelayFixture['createSecret']>>): Promise<string> {
    const oldVersion = secret.versionId;
    const newVersion = await fixture.secrets.rotate(secret);
    for (const event of rotationEvents(secret.arn, newVersion, oldVersion)) await fixture.send(event);
    return newVersion;
  }

  it('registers each cache with its metadata and a TTL, and moves its ack when a rotation reaches it', async () => {
    // Prepare
    const secret = await fixture.createSecret();
    const app = await startApp(secret.name, { heartbeatIntervalMs: 200, ttlMs: 1_000 });

    // Act
    await waitUntil(async () => (await readFleet(redis, PREFIX)).live.some((i) => i.id === app.id && i.subscribed === true), { message: 'the cache to register, subscribed' });
    const registered = (await readFleet(redis, PREFIX)).live.find((i) => i.id === app.id);
    const ttl = await redis.pttl(protocolKeys(PREFIX).instance(app.id));
    const newVersion = await rotateThroughWorker(secret);
    await waitUntil(async () => (await readFleet(redis, PREFIX)).live.find((i) => i.id === app.id)?.acks[0]?.versionId === newVersion, {
      message: 'the ack to move to the new version',
    });
    const moved = (await readFleet(redis, PREFIX)).live.find((i) => i.id === app.id);
    const broadcast = await readPublishedVersion(redis, PREFIX, secret.arn);

    // Assess
    expect(app.id).toMatch(new RegExp(`^${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${process.pid}:[0-9a-f]{6}$`));
    expect(registered).toMatchObject({
      host: hostname(),
      pid: process.pid,
      sdk: expect.stringMatching(/^rotation-relay\/\d+\.\d+\.\d+/),
      runtime: `node/${process.versions.node}`,
      ttlMs: 1_000,
      heartbeatIntervalMs: 200,
      acks: [{ secret: secret.arn, versionId: expect.any(String), ackedAt: expect.any(Number) }],
    });
    expect(registered?.startedAt).toBeLessThanOrEqual(Date.now());
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1_000);
    expect(moved?.acks).toEqual([{ secret: secret.arn, versionId: newVersion, ackedAt: expect.any(Number) }]);
    // Acked once the new value was in place: after the broadcast, not before.
    expect(moved?.acks[0]?.ackedAt).toBeGreaterThanOrEqual(Date.parse(broadcast?.publishedAt ?? ''));
    expect(app.cache.status().presence).toMatchObject({ instanceId: app.id, heartbeatIntervalMs: 200, ttlMs: 1_000, lastWriteAt: expect.any(String) });
    await app.cache.stop();
  });

  it('stops counting an instance that dies once its TTL ran out, lists it as stopped; a clean stop deregisters at once', async () => {
    // Prepare
    const secret = await fixture.createSecret();
    const presence = { heartbeatIntervalMs: 300, ttlMs: 1_500 };
    const crashing = spawnInstance(secret.arn, presence);
    const leaving = spawnInstance(secret.arn, presence);
    const [crashingId, leavingId] = await Promise.all([readyId(crashing), readyId(leaving)]);
    await waitUntil(async () => convergenceOf(await readFleet(redis, PREFIX), { secretArn: secret.arn, versionId: secret.versionId }).holders.length === 2, {
      message: 'both instances to ack',
    });

    // Act
    crashing.signal('SIGKILL');
    const killedAt = Date.now();
    leaving.signal('SIGTERM');
    await leaving.waitForLine('stdout', (l) => l.includes('"type":"stopped"'), 'the clean stop');
    const rightAfter = await readFleet(redis, PREFIX);
    await waitUntil(async () => !(await readFleet(redis, PREFIX)).live.some((i) => i.id === crashingId), { message: 'the killed instance to expire', timeoutMs: 10_000 });
    const expiredAfterMs = Date.now() - killedAt;
    const later = await readFleet(redis, PREFIX);
    const status = runCliProcess(['status'], cliEnv());
    await status.exited;

    // Assess
    expect(rightAfter.live.map((i) => i.id)).toContain(crashingId); // within its TTL it still counts
    expect([...rightAfter.live, ...rightAfter.stopped].map((i) => i.id)).not.toContain(leavingId);
    expect(later.stopped.map((i) => i.id)).toContain(crashingId);
    expect(later.stopped.map((i) => i.id)).not.toContain(leavingId);
    expect(convergenceOf(later, { secretArn: secret.arn, versionId: secret.versionId })).toMatchObject({ instances: 0, converged: true });
    expect(expiredAfterMs).toBeLessThan(presence.ttlMs + 3_000);
    expect(status.stdout().join('\n')).toMatch(new RegExp(`Stopped heartbeating[^]*${crashingId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    process.stdout.write(`[fleet] killed instance dropped out of the live set ${expiredAfterMs} ms after SIGKILL (TTL ${presence.ttlMs} ms)\n`);
  }, 60_000);

  it('shows an instance that missed the broadcast as stale (status, wait-converged, InstancesStale) until it reconciles', async () => {
    // Prepare
    const secret = await fixture.createSecret();
    const proxy: FreezeProxyDouble = await startFreezeProxyDouble(fixture.redis.port);
    const metrics = new MetricsRecorderDouble();
    const replica = new RelayWorker(fixture.config(), { sqs: fixture.sqs, secrets: fixture.secrets.client, logger: fixture.logs.logger, metrics, instancesStale: { intervalMs: 3_600_000, graceMs: 0 } });
    try {
      await replica.start();
      const fast = { heartbeatIntervalMs: 300, ttlMs: 3_000 };
      const [a, b] = await Promise.all([startApp(secret.arn, fast), startApp(secret.arn, fast)]);
      // Long TTL for the lagging one: the partition must outlast its heartbeats, not its presence.
      const lagging = await startApp(secret.arn, { heartbeatIntervalMs: 300, ttlMs: 30_000 }, proxy.url);
      await waitUntil(async () => convergenceOf(await readFleet(redis, PREFIX), { secretArn: secret.arn, versionId: secret.versionId }).holders.length === 3, {
        message: 'all three to ack the first version',
      });
      await waitUntil(() => lagging.cache.status().pubsub.connected, { message: 'the lagging one to subscribe' });

      // Act
      const oldVersion = secret.versionId;
      proxy.freeze();
      const newVersion = await rotateThroughWorker(secret);
      await waitUntil(() => [a, b].every((app) => app.cache.current('db').versionId === newVersion), { message: 'the two connected instances to rotate' });
      await waitUntil(
        async () => convergenceOf(await readFleet(redis, PREFIX), { secretArn: secret.arn, versionId: newVersion }).holders.length === 2,
        { message: 'their acks' },
      );
      // Several heartbeats of the others later (3 × 300 ms), with the lagging one stale for a second.
      const writtenAt = (app: { cache: { status(): { presence?: { lastWriteAt?: string } } } }) => Date.parse(app.cache.status().presence?.lastWriteAt ?? '');
      const heartbeatsBefore = [a, b].map(writtenAt);
      await waitUntil(
        async () => {
          const stale = (await readFleetStatus(redis, PREFIX)).secrets.find((s) => s.secretArn === secret.arn)?.convergence?.stale[0];
          return (stale?.staleForMs ?? 0) >= 1_000 && [a, b].every((app, i) => writtenAt(app) >= (heartbeatsBefore[i] ?? Infinity) + 900);
        },
        { message: 'three more heartbeats of the others while the lagging one stays stale for 1 s' },
      );
      const during = await readFleetStatus(redis, PREFIX);
      const staleCount = await replica.checkInstancesStale();
      const timedOut = await waitConverged({ redis, keyPrefix: PREFIX, secretArn: secret.arn, versionId: newVersion, timeoutMs: 300, pollMs: 100 }).catch((error: unknown) => error);
      const cli = runCliProcess(['wait-converged', secret.arn, '--version', newVersion, '--timeout', '500ms', '--poll', '100ms'], cliEnv());
      const statusCli = runCliProcess(['status'], cliEnv());
      const [cliCode] = await Promise.all([cli.exited, statusCli.exited]);
      proxy.reset(); // the connections drop; the instance reconnects, resubscribes and reconciles
      const converged = await waitConverged({ redis, keyPrefix: PREFIX, secretArn: secret.arn, versionId: newVersion, timeoutMs: 15_000, pollMs: 100, minInstances: 3 });
      const staleAfter = await replica.checkInstancesStale();

      // Assess
      const entry = during.secrets.find((s) => s.secretArn === secret.arn);
      expect(entry?.convergence?.holders.map((h) => h.instanceId).sort()).toEqual([a.id, b.id].sort());
      expect(entry?.convergence?.stale).toEqual([expect.objectContaining({ instanceId: lagging.id, versionId: oldVersion, staleForMs: expect.any(Number) })]);
      expect(entry?.convergence?.stale[0]?.staleForMs).toBeGreaterThanOrEqual(1_000);
      expect(staleCount).toBeGreaterThanOrEqual(1);
      expect(metrics.recorded.filter((m) => m.name === 'InstancesStale').map((m) => m.value)[0]).toBe(staleCount);
      expect(timedOut).toBeInstanceOf(NotConvergedError);
      expect((timedOut as NotConvergedError).result.stale.map((s) => s.instanceId)).toEqual([lagging.id]);
      expect(cliCode).toBe(1);
      expect(cli.stdout().join('\n')).toContain(lagging.id);
      expect(cli.stdout().join('\n')).toMatch(/^not converged after/);
      expect(statusCli.stdout().join('\n')).toMatch(new RegExp(`Stale instances[^]*${secret.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+${lagging.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      expect(lagging.rotations.at(-1)).toMatchObject({ versionId: newVersion, trigger: 'reconcile' });
      expect(converged).toMatchObject({ converged: true, instances: 3, stale: [] });
      expect(staleAfter).toBe(0);
      for (const app of [a, b, lagging]) await app.cache.stop();
    } finally {
      await replica.stop();
      await proxy.stop();
    }
  }, 60_000);

  it('writes nothing with presence: false', async () => {
    // Prepare
    const secret = await fixture.createSecret();
    const before = await redis.zcard(protocolKeys(PREFIX).instances);
    const app = instance(fixture, { secrets: { db: { secretId: secret.arn, json: true } }, presence: false });
    apps.push(app);

    // Act
    await app.cache.start();
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'subscribed' });

    // Assess
    expect(app.cache.status().presence).toBeUndefined();
    expect(await redis.zcard(protocolKeys(PREFIX).instances)).toBe(before);
    await app.cache.stop();
  });
});
