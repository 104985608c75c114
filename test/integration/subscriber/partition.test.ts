import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { protocolKeys } from '../../../src/protocol/index.js';
import { createCredentialCache, listenerConnectionName, type CredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import { captureLogger, type CapturedLogger } from '../../support/log-capture.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import { MotoSecrets, type TestSecret } from '../../support/moto-secrets.js';
import { motoClientConfig, startMoto, type MotoHandle } from '../../support/moto-server.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { startTcpProxyDouble, type TcpProxyDouble } from '../../support/tcp-proxy-double.js';
import { waitUntil } from '../../support/wait-until.js';

const PREFIX = 'rotation-relay';
const HEARTBEAT_MS = 500;
/**
 * After the last connection heals: one heartbeat (the SDK retries a connection at least once per
 * heartbeat and writes presence as soon as it is ready) plus a margin for the reconnect handshake,
 * SUBSCRIBE and a loaded CI host.
 */
const RESUME_BOUND_MS = HEARTBEAT_MS + 1_000;

/** One app instance: a real CredentialCache whose two Redis connections go through the proxy. */
interface App {
  id: string;
  cache: CredentialCache;
  logs: CapturedLogger;
  metrics: MetricsRecorderDouble;
  /** Name (CLIENT SETNAME) of its subscriber connection and of its command ("versions") connection. */
  isSubscriber: (name: string | undefined) => boolean;
  isVersions: (name: string | undefined) => boolean;
}

/**
 * Network partitions between the SDK and a real redis-server, cut and healed per connection by
 * the TCP proxy double; Secrets Manager is moto_server. Each heal must bring presence back — a
 * fresh heartbeat, subscribed=1 and the ack of the version held, written by the instance itself —
 * within about one heartbeat of the moment the bus is reachable again, whatever the order in which
 * the two connections return and however often it happens.
 */
describe('CredentialCache presence across partitions (redis-server behind a TCP proxy + moto)', () => {
  let redis: RedisHandle;
  let moto: MotoHandle;
  let secrets: MotoSecrets;
  let proxy: TcpProxyDouble;
  let admin: Redis;
  let secret: TestSecret;
  const apps: App[] = [];
  const resumeTimes: Array<{ scenario: string; ms: number }> = [];
  let counter = 0;

  beforeAll(async () => {
    [redis, moto] = await Promise.all([startRedis(), startMoto()]);
    secrets = new MotoSecrets(moto);
    secret = await secrets.create(`partition/db-${Date.now()}`);
    proxy = await startTcpProxyDouble({ host: redis.host, port: redis.port });
    admin = new Redis(redis.url);
  });

  afterEach(async () => {
    proxy.setRule(() => 'pass');
    proxy.heal();
    // An instance of an earlier test must not reconnect through the partitions of the next one.
    await Promise.allSettled(apps.map((app) => app.cache.stop()));
  });

  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app.cache.stop()));
    admin?.disconnect();
    await proxy?.stop();
    await Promise.allSettled([redis?.stop(), moto?.stop()]);
    const sorted = resumeTimes.map((r) => r.ms).sort((a, b) => a - b);
    if (sorted.length > 0) {
      const median = sorted[Math.floor(sorted.length / 2)];
      process.stdout.write(
        `[partition] presence resume (last heal → first write with subscribed=1 and the ack), ${sorted.length} heals: ` +
          `median ${median} ms, max ${sorted.at(-1)} ms; ${resumeTimes.map((r) => `${r.scenario}=${r.ms}`).join(' ')}\n`,
      );
    }
  });

  async function startApp(): Promise<App> {
    counter += 1;
    const id = `partition-${process.pid}-${counter}`;
    const logs = captureLogger({ component: 'cache', instance: id });
    const metrics = new MetricsRecorderDouble();
    const cache = createCredentialCache({
      secrets: { db: { secretId: secret.name, json: true } },
      redis: { url: proxy.url, cluster: false, keyPrefix: PREFIX },
      presence: { instanceId: id, heartbeatIntervalMs: HEARTBEAT_MS, ttlMs: 5_000 },
      // Partitions, not signing, are under test here; nothing is published on the channel.
      allowUnsigned: true,
      secretsClient: new SecretsManagerClient(motoClientConfig(moto)),
      logger: logs.logger,
      metrics,
    });
    const subscriberName = listenerConnectionName(id);
    const app: App = {
      id,
      cache,
      logs,
      metrics,
      isSubscriber: (name) => name === subscriberName,
      isVersions: (name) => name === `${subscriberName}:versions`,
    };
    apps.push(app);
    await cache.start();
    await waitUntil(() => cache.status().pubsub.connected && cache.status().presence?.state === 'ok', { message: `${id} subscribed and writing presence` });
    return app;
  }

  const presenceHash = (app: App) => admin.hgetall(protocolKeys(PREFIX).instance(app.id));

  /** The instance's state right after a cut: subscription lost, presence writes failing. */
  async function cutOff(app: App): Promise<void> {
    await waitUntil(() => !app.cache.status().pubsub.connected, { message: `${app.id}: the subscription to drop` });
    await waitUntil(() => app.cache.status().presence?.state === 'failing', { message: `${app.id}: presence to report failing`, timeoutMs: 5_000 });
  }

  /**
   * Waits for the first write after `healedAt` that is complete — fresh heartbeatAt, subscribed=1,
   * the ack of the version held — and for status() to show it; records heal → that write.
   */
  async function expectResumed(app: App, healedAt: number, scenario: string): Promise<number> {
    let resumedAt = Infinity;
    const field = `ack:${secret.arn}`;
    await waitUntil(
      async () => {
        const hash = await presenceHash(app);
        const heartbeatAt = Number(hash['heartbeatAt']);
        if (!(heartbeatAt >= healedAt) || hash['subscribed'] !== '1' || hash[field]?.split('@')[0] !== secret.versionId) return false;
        resumedAt = Math.min(resumedAt, heartbeatAt);
        // Redis holds the write a moment before the reply reaches the SDK and status() records it.
        return Date.parse(app.cache.status().presence?.lastWriteAt ?? '') >= healedAt;
      },
      { message: `${app.id} (${scenario}): a complete presence write after the heal`, timeoutMs: 10_000, intervalMs: 10 },
    );
    const status = app.cache.status();
    expect(status.pubsub.connected).toBe(true);
    expect(status.presence).toMatchObject({ state: 'ok' });
    expect(Date.parse(status.presence?.lastWriteAt ?? '')).toBeGreaterThanOrEqual(healedAt);
    expect(status.presence?.reasonCode).toBeUndefined();
    expect(app.cache.current('db').versionId).toBe(secret.versionId);
    const ms = resumedAt - healedAt;
    resumeTimes.push({ scenario, ms });
    expect(ms).toBeLessThanOrEqual(RESUME_BOUND_MS);
    return ms;
  }

  it('both connections cut together and healed together: presence resumes within one heartbeat', async () => {
    // Prepare
    const app = await startApp();

    // Act
    proxy.partition({ mode: 'reset' });
    await cutOff(app);
    const failing = app.cache.status().presence;
    proxy.heal();
    const healedAt = Date.now();

    // Assess
    expect(failing?.reasonCode).toMatch(/^(CONNECTION|TIMEOUT)$/);
    await expectResumed(app, healedAt, 'together');
    expect(app.metrics.total('PresenceWriteFailures')).toBeGreaterThanOrEqual(1);
    const records = app.logs.records();
    expect(records.filter((r) => r['code'] === 'PRESENCE_WRITE_FAILED' && r['level'] === 'error').length).toBeGreaterThanOrEqual(1);
    expect(records.filter((r) => r['code'] === 'PRESENCE_WRITE_RECOVERED')).toHaveLength(1);
  });

  it('the subscriber heals first while the versions connection stays refused for 1.5 s: presence fails loudly, then resumes within one heartbeat of the second heal', async () => {
    // Prepare
    const app = await startApp();
    proxy.partition({ mode: 'reset' });
    await cutOff(app);

    // Act
    proxy.heal(app.isSubscriber);
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'resubscribed while the versions connection is refused' });
    const resubscribedAt = Date.now();
    // The scenario itself, not synchronisation: the versions connection stays refused for 1.5 s.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const meanwhile = app.cache.status().presence;
    proxy.heal();
    const healedAt = Date.now();

    // Assess
    expect(meanwhile?.state).toBe('failing');
    expect(Date.parse(meanwhile?.lastWriteAt ?? '')).toBeLessThan(resubscribedAt);
    await expectResumed(app, healedAt, 'subscriber-first');
  });

  it('the versions connection heals first while the subscriber stays refused for 1.5 s: presence says subscribed=0 meanwhile, then resumes with subscribed=1 within one heartbeat', async () => {
    // Prepare
    const app = await startApp();
    proxy.partition({ mode: 'reset' });
    await cutOff(app);

    // Act
    const versionsHealedAt = Date.now();
    proxy.heal(app.isVersions);
    await waitUntil(async () => Number((await presenceHash(app))['heartbeatAt']) >= versionsHealedAt, {
      message: 'a presence write on the healed versions connection',
      timeoutMs: RESUME_BOUND_MS,
    });
    const meanwhile = await presenceHash(app);
    // The scenario itself: the subscriber connection stays refused for 1.5 s in all.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, versionsHealedAt + 1_500 - Date.now())));
    const stillRefused = app.cache.status();
    proxy.heal();
    const healedAt = Date.now();

    // Assess
    expect(meanwhile['subscribed']).toBe('0');
    expect(stillRefused.pubsub.connected).toBe(false);
    expect(stillRefused.presence?.state).toBe('ok');
    await expectResumed(app, healedAt, 'versions-first');
  });

  it('20 partitions in a row, healed together or staggered either way: presence resumes after every heal', async () => {
    // Prepare
    const app = await startApp();
    const orders = ['together', 'subscriber-first', 'versions-first'] as const;

    // Act + Assess, per partition
    for (let round = 0; round < 20; round += 1) {
      const order = orders[round % orders.length] ?? 'together';
      proxy.partition({ mode: 'reset' });
      await cutOff(app);
      if (order !== 'together') {
        const first = order === 'subscriber-first' ? app.isSubscriber : app.isVersions;
        proxy.heal(first);
        // Staggered by 100–700 ms: sometimes within the other's reconnect backoff, sometimes after.
        await new Promise((resolve) => setTimeout(resolve, 100 + ((round * 230) % 600)));
      }
      proxy.heal();
      await expectResumed(app, Date.now(), `#${round + 1}:${order}`);
    }
    const recovered = app.logs.records().filter((r) => r['code'] === 'PRESENCE_WRITE_RECOVERED');
    expect(recovered).toHaveLength(20);
  }, 180_000);

  it('a subscriber connection that is accepted and then reset: the next one subscribes and presence resumes', async () => {
    // Prepare
    const app = await startApp();
    proxy.partition({ mode: 'reset' });
    await cutOff(app);
    let flapped: number | undefined;
    proxy.setRule((connection) => {
      if (!app.isSubscriber(connection.name) || flapped !== undefined) return 'pass';
      flapped = connection.seq;
      return { resetAfterMs: 300 };
    });
    const subscribedAt: number[] = [];
    app.cache.on('subscribed', () => subscribedAt.push(Date.now()));

    // Act
    proxy.heal();
    const healedAt = Date.now();
    await waitUntil(() => proxy.connections().some((c) => c.seq === flapped && c.state === 'closed'), { message: 'the accepted subscriber connection to be reset' });
    const resetAt = Date.now();

    // Assess: it subscribed on the connection that was then reset, and again on the next one
    await expectResumed(app, resetAt, 'accepted-then-reset');
    expect(subscribedAt.filter((at) => at < resetAt).length).toBeGreaterThanOrEqual(1);
    expect(subscribedAt.filter((at) => at >= resetAt).length).toBeGreaterThanOrEqual(1);
    expect(proxy.connections().filter((c) => app.isSubscriber(c.name) && c.seq > (flapped ?? Infinity) && c.state === 'passing')).toHaveLength(1);
    expect(resetAt - healedAt).toBeGreaterThanOrEqual(250);
  });

  it('a blackhole partition (no reset, no error): the SDK notices it by itself, reconnects once healed and resumes presence', async () => {
    // Prepare
    const app = await startApp();
    const before = proxy.connections().filter((c) => (app.isSubscriber(c.name) || app.isVersions(c.name)) && c.state === 'passing');
    expect(before).toHaveLength(2);

    // Act: drop every byte both ways; nothing is reset until heal()
    proxy.partition({ mode: 'blackhole' });
    const cutAt = Date.now();
    await cutOff(app);
    const noticedAt = Date.now();
    const failing = app.cache.status().presence;
    // The SDK closed the silent connections itself: the proxy still holds them open.
    await waitUntil(() => before.every((old) => proxy.connections().find((c) => c.seq === old.seq)?.state === 'closed'), {
      message: 'the SDK to tear down both silent connections',
      timeoutMs: 5_000,
    });
    proxy.heal();
    const healedAt = Date.now();

    // Assess
    expect(failing?.reasonCode).toMatch(/^(TIMEOUT|CONNECTION)$/);
    // Noticed within a health check plus a command bound (1 s at this heartbeat), with margin.
    expect(noticedAt - cutAt).toBeLessThan(HEARTBEAT_MS + 1_000 + 1_500);
    await expectResumed(app, healedAt, 'blackhole');
    process.stdout.write(`[partition] blackhole noticed after ${noticedAt - cutAt} ms\n`);
  });
});
