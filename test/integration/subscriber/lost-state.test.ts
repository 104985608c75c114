import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricNames } from '../../../src/metrics/index.js';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import type { TestSecret } from '../../support/moto-secrets.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';
import { startTcpProxyDouble, type TcpProxyDouble } from '../../support/tcp-proxy-double.js';
import { waitUntil } from '../../support/wait-until.js';
import { instance, leakedValues, type Instance } from '../../support/subscribed-cache.js';

const VERSIONS_KEY = '{rotation-relay}:versions';
/** What the project promises after a heal, with the default 0..1 s reread jitter inside it. */
const CONVERGE_WITHIN_MS = 5_000;

/**
 * Lost versions state, on real services: the real worker publishes into a private redis-server
 * (moto behind it), and the cache reaches that Redis through a TCP proxy double that cuts it off.
 * The poll is 30 minutes, so nothing but the reconcile (and what it does about a lost hash) can
 * bring the new version within the few seconds the test allows.
 */
describe('CredentialCache after {P}:versions was lost (redis-server behind a TCP proxy + moto + fauxqs + worker)', () => {
  let fixture: RelayFixture;
  let outcomes: MessageOutcome[];
  let admin: Redis;
  const proxies: TcpProxyDouble[] = [];
  const instances: Instance[] = [];
  const healToNewMs: string[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start();
    ({ outcomes } = await fixture.startWorker());
    admin = new Redis(fixture.redis.url);
  });

  afterAll(async () => {
    await Promise.allSettled(instances.map((app) => app.cache.stop()));
    await Promise.allSettled(proxies.map((proxy) => proxy.stop()));
    admin?.disconnect();
    await fixture?.stop();
    if (healToNewMs.length > 0) process.stdout.write(`[lost-state] heal → new version in place: ${healToNewMs.join(', ')}\n`);
  });

  /** A cache with a 30-minute poll, its Redis connections through a proxy of their own. */
  const start = async (secret: TestSecret): Promise<{ app: Instance; proxy: TcpProxyDouble; metrics: MetricsRecorderDouble }> => {
    const proxy = await startTcpProxyDouble({ host: fixture.redis.host, port: fixture.redis.port });
    proxies.push(proxy);
    const metrics = new MetricsRecorderDouble();
    const app = instance(fixture, { secrets: { db: { secretId: secret.name, json: true } }, pollIntervalMs: 30 * 60_000, metrics }, proxy.url);
    instances.push(app);
    await app.cache.start();
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'subscribed through the proxy' });
    return { app, proxy, metrics };
  };

  /** A rotation as the worker sees it, resolved once the worker broadcast it (and stored it in the hash). */
  const rotate = async (secret: TestSecret): Promise<string> => {
    const versionId = await fixture.secrets.rotate(secret);
    await fixture.send(labelUpdatedEvent(secret.arn, versionId));
    await fixture.until(
      () => outcomes.some((outcome) => outcome.kind === 'published' && outcome.secretArn === secret.arn && outcome.versionId === versionId),
      'the worker to broadcast the rotation',
    );
    return versionId;
  };

  const cutOff = async (app: Instance, proxy: TcpProxyDouble): Promise<void> => {
    proxy.partition({ mode: 'reset' });
    await waitUntil(() => !app.cache.status().pubsub.connected, { message: 'the subscription to drop' });
  };

  /**
   * Keeps the partition until the subscriber's reconnect backoff reached its 2 s cap (ioredis
   * retries after 100, 200, 400, 800, 1 600, then 2 000 ms): the heal then waits for the longest
   * retry delay, the worst case for how soon after a heal the reconcile can run.
   */
  const untilBackoffCapped = async (proxy: TcpProxyDouble): Promise<void> => {
    const refused = () => proxy.connections().filter((c) => c.name?.startsWith('rotation-relay:listener') && !c.name.endsWith(':versions') && c.state === 'closed').length;
    const before = refused();
    await waitUntil(() => refused() - before >= 6, { message: 'six refused reconnects of the subscriber', timeoutMs: 15_000 });
  };

  const flushAll = async (): Promise<void> => {
    await admin.flushall();
    expect(await admin.hlen(VERSIONS_KEY)).toBe(0);
  };

  /** Heals, and resolves with how long after the heal the cache held `versionId`. */
  const healUntil = async (app: Instance, proxy: TcpProxyDouble, versionId: string, label: string): Promise<number> => {
    const healedAt = Date.now();
    proxy.heal();
    await waitUntil(() => app.cache.current('db').versionId === versionId, { message: `the new version within ${CONVERGE_WITHIN_MS} ms of the heal`, timeoutMs: CONVERGE_WITHIN_MS });
    const rotation = app.rotations.find((event) => event.versionId === versionId);
    const elapsed = (rotation?.at ?? Infinity) - healedAt;
    healToNewMs.push(`${label} ${elapsed} ms`);
    expect(elapsed).toBeLessThan(CONVERGE_WITHIN_MS);
    return elapsed;
  };

  const lostWarnings = (app: Instance) => app.logs.records().filter((record) => record['code'] === 'VERSIONS_STATE_LOST');

  it('partition, rotate (missed), FLUSHALL, heal: a secret seen in the hash at a reconcile is reread from AWSCURRENT once, within 5 s', async () => {
    const secret = await fixture.createSecret();
    const { app, proxy, metrics } = await start(secret);
    // The hash shows the secret to this instance at a reconcile: a first missed rotation.
    await cutOff(app, proxy);
    const first = await rotate(secret);
    proxy.heal();
    await waitUntil(() => app.cache.current('db').versionId === first, { message: 'the reconcile to bring the first rotation' });

    await cutOff(app, proxy);
    const second = await rotate(secret);
    await flushAll();
    const readsBefore = app.counting.reads.length;
    expect(app.cache.current('db').versionId).toBe(first);

    await healUntil(app, proxy, second, 'seen-at-reconcile');

    expect(app.rotations.at(-1)).toMatchObject({ versionId: second, previousVersionId: first, trigger: 'reconcile' });
    expect(app.counting.reads.slice(readsBefore)).toEqual([{ SecretId: secret.name, VersionStage: 'AWSCURRENT' }]);
    expect(app.cache.status().counts.versionsStateLost).toBe(1);
    expect(metrics.total(MetricNames.VersionsStateLost)).toBe(1);
    expect(lostWarnings(app)).toEqual([expect.objectContaining({ level: 'warn', names: ['db'], secretIds: [secret.name], hashEmpty: true })]);
  });

  it('partition (until the reconnect backoff is capped), rotate (missed), FLUSHALL, heal: a secret seen only as a live broadcast is reread once too', async () => {
    const secret = await fixture.createSecret();
    const { app, proxy, metrics } = await start(secret);
    const first = await rotate(secret);
    await waitUntil(() => app.cache.current('db').versionId === first, { message: 'the broadcast to arrive live' });

    await cutOff(app, proxy);
    const second = await rotate(secret);
    await flushAll();
    await untilBackoffCapped(proxy);
    const readsBefore = app.counting.reads.length;

    await healUntil(app, proxy, second, 'seen-as-broadcast, backoff capped');

    expect(app.counting.reads.slice(readsBefore)).toEqual([{ SecretId: secret.name, VersionStage: 'AWSCURRENT' }]);
    expect(app.cache.status().counts.versionsStateLost).toBe(1);
    expect(metrics.total(MetricNames.VersionsStateLost)).toBe(1);
    expect(lostWarnings(app)).toHaveLength(1);
  });

  it('partition, FLUSHALL, rotate, heal: the broadcast repopulates the hash, the reconcile reads that version, and no loss is reported', async () => {
    const secret = await fixture.createSecret();
    const { app, proxy, metrics } = await start(secret);
    const first = await rotate(secret);
    await waitUntil(() => app.cache.current('db').versionId === first, { message: 'the broadcast to arrive live' });

    await cutOff(app, proxy);
    await flushAll();
    const second = await rotate(secret);
    expect(await admin.hlen(VERSIONS_KEY)).toBe(1);
    const readsBefore = app.counting.reads.length;

    await healUntil(app, proxy, second, 'flush-then-rotate');

    expect(app.rotations.at(-1)).toMatchObject({ versionId: second, trigger: 'reconcile' });
    expect(app.counting.reads.slice(readsBefore)).toEqual([{ SecretId: secret.name, VersionId: second }]);
    expect(app.cache.status().counts.versionsStateLost).toBe(0);
    expect(metrics.total(MetricNames.VersionsStateLost)).toBe(0);
    expect(lostWarnings(app)).toEqual([]);
  });

  it('no status() and no log line of these tests holds a secret value', () => {
    const values = fixture.created.flatMap((secret) => secret.values);
    const text = [...instances.flatMap((app) => [JSON.stringify(app.cache.status()), ...app.logs.lines()]), ...fixture.logs.lines()].join('\n');
    expect(leakedValues(text, values)).toEqual([]);
  });
});
