import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRotatingRedis, redisRotationStatus } from '../../../src/sdk/ioredis/redis-client.js';
import { accountSubscribers, identifyConnection, parseClientList, readChannel, readFleetStatus } from '../../../src/sdk/fleet/index.js';
import { protocolKeys } from '../../../src/protocol/index.js';
import { WORKER_CONNECTION } from '../../../src/relay/worker/rotating-redis.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { startLoadLoop, type LoadLoop, type LoadResult } from '../../support/load-loop.js';
import type { TestSecret } from '../../support/moto-secrets.js';
import { startRedisCluster, type ClusterFailover, type ClusterShard, type RedisClusterHandle } from '../../support/redis-cluster.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';
import { instance, type Instance } from '../../support/subscribed-cache.js';

const PREFIX = 'rotation-relay';
const KEYS = protocolKeys(PREFIX);
const USER = 'app';
const APPS = 4;
const HEARTBEAT_MS = 250;
/** The bar of issue 12: every subscriber on the new version this long after the failover. */
const CONVERGED_WITHIN_MS = 5_000;
/** Redelivery and the publish itself, on a loaded 2-core host; measured at ~30 ms. */
const REDELIVERY_SLACK_MS = 1_000;
/** Once the worker publishes, the fleet follows this fast (measured at ~25 ms); a subscriber still stuck on a hung node would not. */
const FOLLOWS_PUBLISH_WITHIN_MS = 1_000;

interface App extends Instance {
  id: string;
  client: Redis;
  load: LoadLoop;
}

/**
 * Redis Cluster with replicas (3 masters + 3 replicas on loopback, cluster-node-timeout 1 s): the
 * shard holding `{rotation-relay}` — the versions hash, presence, the Lua publish — fails over
 * while a rotation is in flight. The real worker relays from fauxqs (Secrets Manager is moto);
 * four CredentialCaches (`cluster: true`, presence every 250 ms) each feed a rotating ioredis
 * client that runs a SET/GET load against the app's own Redis, whose ACL password is the
 * rotated secret. That data Redis is a separate server: a failed operation can then only mean a
 * credential went wrong, not that the bus's failover took the data path with it.
 *
 * The password rotates ElastiCache-ROTATE style (old and new valid while the fleet moves); once
 * every cache reports the new version the old one is revoked and every connection killed, so a
 * client still on the old password would fail its next login.
 */
describe('Redis Cluster with replicas: the shard holding {rotation-relay} fails over during a rotation', () => {
  let fixture: RelayFixture;
  let cluster: RedisClusterHandle;
  let data: RedisHandle;
  let admin: Redis;
  let secret: TestSecret;
  let password: string;
  const published: Array<{ at: number; versionId: string }> = [];
  const retries: number[] = [];
  const apps: App[] = [];

  beforeAll(async () => {
    password = nextPassword();
    [fixture, cluster, data] = await Promise.all([
      RelayFixture.start(),
      startRedisCluster({ masters: 3, replicasPerMaster: 1 }),
      startRedis({ aclUsers: [{ name: USER, passwords: [password] }] }),
    ]);
    admin = new Redis({ host: data.host, port: data.port, connectionName: 'admin' });
    secret = await fixture.secrets.create(`cluster-failover/cache-${randomBytes(3).toString('hex')}`, JSON.stringify({ username: USER, password }));
    fixture.created.push(secret);
    // Seeded outside the {rotation-relay} shard, on a node no test takes away: an ioredis Cluster
    // that lost every node goes back to its seed alone, and a frozen seed would strand it.
    const tagShard = await cluster.shardOf(KEYS.versions);
    const workerSeed = cluster.nodes.findIndex((_, index) => index !== tagShard.master && !tagShard.replicas.includes(index));
    const { worker } = await fixture.startWorker({ ROTATION_RELAY_REDIS_URL: cluster.url(workerSeed), ROTATION_RELAY_REDIS_CLUSTER: 'true' });
    worker.on('outcome', (outcome) => {
      if (outcome.kind === 'published') published.push({ at: Date.now(), versionId: outcome.versionId });
    });
    worker.on('retry', () => retries.push(Date.now()));
  });

  afterEach(stopFleet);

  afterAll(async () => {
    await stopFleet();
    admin?.disconnect();
    await fixture?.stop();
    await Promise.allSettled([cluster?.stop(), data?.stop()]);
  });

  /**
   * A fresh fleet per test: each cache's cluster client learns the node pool when it connects
   * and, with nothing but a subscription on it, never asks again — a test's subscribers are only
   * placeable on the masters that were current when they started.
   *
   * `notSeededOn`: a node the test will freeze. A Cluster client that lost every connection
   * starts over from its one seed (a known SDK limit), and a seed that is hung never answers, so
   * no cache may have it as its only seed. A killed seed is fine: it refuses, then comes back.
   */
  async function startFleet(round: string, notSeededOn?: number): Promise<void> {
    const seeds = (await cluster.masters()).filter((index) => cluster.isRunning(index) && index !== notSeededOn);
    for (let i = 0; i < APPS; i += 1) {
      const app = instance(fixture, {
        secrets: { cache: { secretId: secret.arn, json: true } },
        // Seeds on different masters; where each subscriber connection lands is steered per test.
        redis: { url: cluster.url(seeds[i % seeds.length] ?? 0), cluster: true, keyPrefix: PREFIX },
        presence: { heartbeatIntervalMs: HEARTBEAT_MS, ttlMs: 5_000 },
        backoff: { minMs: 100, maxMs: 1_000 },
        // The 30-minute default, explicitly: only the bus (and its reconcile) can deliver in time.
        pollIntervalMs: 1_800_000,
      });
      await app.cache.start();
      const id = app.cache.status().presence?.instanceId;
      if (!id) throw new Error('presence is off');
      const client = createRotatingRedis(app.cache, 'cache', { host: data.host, port: data.port, connectionName: `app-${round}-${i}` });
      client.on('error', () => undefined); // counted by the load as failed operations, if any
      apps.push({ ...app, id, client, load: setGetLoad(client, `${round}${i}`) });
      await waitUntil(() => client.status === 'ready', { message: `the rotating client of app ${i} to be ready` });
    }
    await waitUntil(() => apps.every((app) => app.cache.status().pubsub.connected), { message: 'every cache subscribed' });
  }

  async function stopFleet(): Promise<void> {
    const stopping = apps.splice(0);
    await Promise.allSettled(stopping.map((app) => app.load.stop()));
    for (const app of stopping) app.client.disconnect();
    await Promise.allSettled(stopping.map((app) => app.cache.stop()));
  }

  function nextPassword(): string {
    const value = `cluster-pw-${randomBytes(12).toString('hex')}`;
    registerSecretValue(value, 'redis-cluster-failover data-Redis password');
    return value;
  }

  /** SET then GET on the app's own keys, ~2 ms apart, 2 loops: an app's steady traffic. */
  function setGetLoad(client: Redis, prefix: string): LoadLoop {
    return startLoadLoop(
      async (loop, i) => {
        const key = `${prefix}:${loop}:${i % 50}`;
        await client.set(key, String(i));
        if ((await client.get(key)) !== String(i)) throw new Error(`GET ${key} returned a different value`);
      },
      2,
      2,
    );
  }

  /** Node index each cache's subscriber connection is on (`CLIENT LIST TYPE pubsub` of every running node). */
  async function subscriberNodes(): Promise<Map<string, { node: number; clientId: string }>> {
    const found = new Map<string, { node: number; clientId: string }>();
    for (let node = 0; node < cluster.nodes.length; node += 1) {
      if (!cluster.isRunning(node)) continue;
      const text = String(await cluster.call(node, 'CLIENT', 'LIST', 'TYPE', 'PUBSUB'));
      const ids = text.split('\n').map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1]);
      parseClientList(text, String(node)).forEach((connection, i) => {
        const identity = identifyConnection(connection.name);
        const clientId = ids[i];
        if (identity.kind === 'listener' && connection.channels > 0 && clientId) found.set(identity.instanceId, { node, clientId });
      });
    }
    return found;
  }

  /**
   * Moves subscriber connections until at least `count` of them are on each wanted `node`: the
   * interesting case is a subscriber whose connection is on the master that goes away, and where
   * ioredis puts it is random. A killed subscriber connection makes ioredis pick a random node of
   * its pool again and resubscribe there, which is all this relies on. That pool is the listener
   * Cluster's own view: the masters of its last CLUSTER SLOTS (a promoted replica is missing until
   * it refreshes), so which app ends up where is left open.
   */
  async function placeSubscribers(wanted: ReadonlyArray<{ node: number; count: number }>): Promise<void> {
    await waitUntil(
      async () => {
        const nodes = await subscriberNodes();
        const located = apps.map((app) => nodes.get(app.id));
        const kept = new Map<number, number>();
        const move: Array<{ node: number; clientId: string }> = [];
        for (const at of located) {
          if (!at) continue;
          const need = wanted.find((w) => w.node === at.node)?.count ?? 0;
          if ((kept.get(at.node) ?? 0) < need) kept.set(at.node, (kept.get(at.node) ?? 0) + 1);
          else move.push(at);
        }
        const missing = wanted.filter((w) => (kept.get(w.node) ?? 0) < w.count);
        if (missing.length === 0 && located.every((at) => at !== undefined)) return true;
        // Only what is not needed where it is moves; with every target met, the rest stay put.
        if (missing.length > 0) for (const at of move) await cluster.call(at.node, 'CLIENT', 'KILL', 'ID', at.clientId);
        throw new Error(`subscribers now on nodes ${JSON.stringify(located.map((at) => at?.node ?? 'none'))}`);
      },
      { message: `subscriber connections placed as ${JSON.stringify(wanted)}`, timeoutMs: 30_000, intervalMs: 50 },
    );
  }

  /** What an operator's `status` sees, through a Cluster client of its own seeded on a running node. */
  async function withReader<T>(read: (reader: Cluster) => Promise<T>): Promise<T> {
    const seed = cluster.nodes.findIndex((_, index) => cluster.isRunning(index));
    const reader = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[seed]?.port ?? 0 }], { redisOptions: { connectionName: 'operator' } });
    reader.on('error', () => undefined);
    try {
      await waitUntil(() => reader.status === 'ready', { message: 'the operator reader to be ready' });
      return await read(reader);
    } finally {
      reader.disconnect();
    }
  }

  /**
   * What is untrue in the operator's view: every app must be live, subscribed and on `versionId`,
   * none stale or stopped, and every subscriber Redis counts on the channel accounted for.
   */
  async function fleetProblems(versionId: string): Promise<string[]> {
    return withReader(async (reader) => {
      const status = await readFleetStatus(reader, PREFIX, { awsCurrent: (arn) => fixture.secrets.currentVersion(arn) });
      const entry = status.secrets.find((s) => s.secretArn === secret.arn);
      const live = new Map(status.fleet.live.map((i) => [i.id, i]));
      const account = accountSubscribers(await readChannel(reader, PREFIX), status.fleet);
      const problems: string[] = [];
      for (const [index, app] of apps.entries()) {
        const seen = live.get(app.id);
        if (!seen) problems.push(`app ${index} not live`);
        else if (seen.subscribed !== true) problems.push(`app ${index} reports subscribed=${String(seen.subscribed)}`);
        if (status.fleet.stopped.some((s) => s.id === app.id)) problems.push(`app ${index} listed as stopped`);
      }
      if (entry?.targetVersionId !== versionId) problems.push(`target version ${entry?.targetVersionId ?? 'none'}, not ${versionId}`);
      if (entry?.convergence?.converged !== true) problems.push('not converged');
      if ((entry?.convergence?.stale.length ?? 0) > 0) problems.push(`stale: ${entry?.convergence?.stale.map((s) => s.instanceId).join(', ')}`);
      if (entry?.convergence?.holders.length !== apps.length) problems.push(`${entry?.convergence?.holders.length ?? 0} holders`);
      if (!account.complete) problems.push(`channel count incomplete: ${JSON.stringify(account.failedNodes)}`);
      if (account.subscribers !== apps.length || account.unaccounted !== 0) problems.push(`channel: ${account.subscribers} subscribers, ${account.unaccounted} unaccounted`);
      return problems;
    });
  }

  /** Resolves once {@link fleetProblems} finds none; a timeout quotes the last ones found. */
  async function untilFleetTruthful(versionId: string, message: string, timeoutMs = 10_000): Promise<number> {
    await waitUntil(
      async () => {
        const problems = await fleetProblems(versionId);
        if (problems.length > 0) throw new Error(problems.join('; '));
        return true;
      },
      { message, timeoutMs, intervalMs: 100 },
    );
    return Date.now();
  }

  /** ROTATE-style: the new password is valid alongside the old one, then AWSCURRENT moves and the event goes out. */
  async function startRotation(): Promise<{ previous: string; versionId: string; sentAt: number }> {
    const previous = password;
    const next = nextPassword();
    await admin.call('ACL', 'SETUSER', USER, `>${next}`);
    const versionId = await fixture.secrets.putPending(secret, JSON.stringify({ username: USER, password: next }));
    await fixture.secrets.moveCurrent(secret, versionId);
    await fixture.send(labelUpdatedEvent(secret.arn, versionId));
    password = next;
    return { previous, versionId, sentAt: Date.now() };
  }

  /** When each app put `versionId` in place (its `rotated` event). */
  function arrivals(versionId: string): number[] {
    return apps.map((app) => app.rotations.find((r) => r.versionId === versionId)?.at ?? Number.NaN);
  }

  /** Revokes the old password and drops every connection: a client not on the new one fails its next login. */
  async function revoke(previous: string): Promise<void> {
    const before = apps.map((app) => app.load.completed());
    await admin.call('ACL', 'SETUSER', USER, `<${previous}`);
    await admin.call('CLIENT', 'KILL', 'USER', USER);
    await waitUntil(() => apps.every((app, i) => app.load.completed() > (before[i] ?? 0) + 100), { message: 'every app to make progress on the new password' });
  }

  /**
   * Watches every cache's `status().presence` (every 5 ms) from now on: `resumedAt(since)` is, per
   * app, when a write that started after `since` was first seen to have succeeded.
   */
  function watchPresence(): { resumedAt(since: number): Promise<number[]>; stop(): void } {
    const seen = apps.map(() => [] as Array<{ writeAt: number; seenAt: number }>);
    const sample = (): void => {
      for (const [i, app] of apps.entries()) {
        const writeAt = Date.parse(app.cache.status().presence?.lastWriteAt ?? '');
        const log = seen[i];
        if (log && Number.isFinite(writeAt) && log.at(-1)?.writeAt !== writeAt) log.push({ writeAt, seenAt: Date.now() });
      }
    };
    const timer = setInterval(sample, 5);
    const firstAfter = (since: number): Array<number | undefined> => seen.map((log) => log.find((entry) => entry.writeAt > since)?.seenAt);
    return {
      async resumedAt(since) {
        await waitUntil(() => firstAfter(since).every((at) => at !== undefined), { message: 'every cache to write presence again', intervalMs: 5 });
        return firstAfter(since).map((at) => at ?? Number.NaN);
      },
      stop: () => clearInterval(timer),
    };
  }

  function report(label: string, failover: ClusterFailover, { versionId, sentAt }: { versionId: string; sentAt: number }, presenceAt: number[], truthfulAt: number): void {
    const at = arrivals(versionId);
    const publish = published.find((p) => p.versionId === versionId);
    const roundRetries = retries.filter((t) => t >= failover.startedAt).map((t) => t - failover.promotedAt);
    process.stdout.write(
      `[cluster failover: ${label}] node ${failover.from} → ${failover.to}: promoted ${failover.promotedAt - failover.startedAt} ms after the ${label}, ` +
        `cluster ok ${failover.healthyAt - failover.startedAt} ms after; worker published ${publish ? publish.at - failover.promotedAt : NaN} ms after promotion ` +
        `(worker retries this round at ${roundRetries.join(', ') || 'none'} ms after promotion, ${retries.length} in this file so far); apps on the new version ${at.map((t) => t - failover.promotedAt).join(', ')} ms after promotion ` +
        `(${at.map((t) => t - failover.healthyAt).join(', ')} ms after cluster ok, ${at.map((t) => t - sentAt).join(', ')} ms after the event was sent); presence written again ${presenceAt.map((t) => t - failover.healthyAt).join(', ')} ms after cluster ok; ` +
        `fleet view truthful ${truthfulAt - failover.healthyAt} ms after cluster ok; triggers ${apps.map((app) => app.rotations.find((r) => r.versionId === versionId)?.trigger).join(', ')}; ` +
        `load ops so far ${apps.map((app) => app.load.completed()).join(', ')}\n`,
    );
  }

  interface Round {
    failover: ClusterFailover;
    versionId: string;
    sentAt: number;
    /** Per app, when its presence was first written after the failover began. */
    presenceAt: number[];
    truthfulAt: number;
    results: LoadResult[];
  }

  /**
   * One rotation through one failover: `failOver` starts both (in the order it wants) and resolves
   * with the failover once the cluster is ok. Then: every cache on the new version, presence back,
   * the operator's view truthful, the old password revoked, and the load's totals.
   */
  async function rotateThrough(label: string, failOver: () => Promise<{ failover: ClusterFailover; rotation: Awaited<ReturnType<typeof startRotation>> }>): Promise<Round> {
    const presence = watchPresence();
    const { failover, rotation } = await failOver();
    const { versionId } = rotation;
    await waitUntil(() => apps.every((app) => app.cache.current('cache').versionId === versionId), {
      message: `every cache on the new version after the ${label}`,
      timeoutMs: 20_000,
      intervalMs: 5,
    });
    const presenceAt = await presence.resumedAt(failover.startedAt).finally(() => presence.stop());
    const truthfulAt = await untilFleetTruthful(versionId, `status truthful after the ${label}`, CONVERGED_WITHIN_MS);
    await revoke(rotation.previous);
    report(label, failover, rotation, presenceAt, truthfulAt);
    const results = await Promise.all(apps.map((app) => app.load.stop()));
    return { failover, versionId, sentAt: rotation.sentAt, presenceAt, truthfulAt, results };
  }

  /** Back to 6 healthy nodes: what an earlier test froze continues, what it killed restarts (as a replica). */
  async function restoreCluster(): Promise<void> {
    for (let index = 0; index < cluster.nodes.length; index += 1) {
      await cluster.thaw(index);
      if (!cluster.isRunning(index)) await cluster.nodes[index]?.start();
    }
    await cluster.waitHealthy();
  }

  /** Two subscribers on the shard's master (the one that goes away), the others on the other masters. */
  async function placeAroundShard(shard: ClusterShard): Promise<void> {
    const [otherA = -1, otherB = -1] = (await cluster.masters()).filter((i) => i !== shard.master);
    await placeSubscribers([{ node: shard.master, count: 2 }, { node: otherA, count: 1 }, { node: otherB, count: 1 }]);
    await untilFleetTruthful(secret.versionId, 'the fleet on the current version');
  }

  /**
   * `converged`: every cache on the new version within `withinMs` of `since`.
   * @defaultValue within {@link CONVERGED_WITHIN_MS} of the promotion
   */
  function expectRoundHeld(round: Round, shard: ClusterShard, converged = { since: round.failover.promotedAt, withinMs: CONVERGED_WITHIN_MS }): void {
    expect(round.failover).toMatchObject({ from: shard.master, to: expect.any(Number) });
    expect(shard.replicas).toContain(round.failover.to);
    for (const at of arrivals(round.versionId)) expect(at - converged.since).toBeLessThanOrEqual(converged.withinMs);
    for (const at of round.presenceAt) expect(at - round.failover.promotedAt).toBeLessThanOrEqual(CONVERGED_WITHIN_MS);
    for (const result of round.results) expect(result.failures).toEqual([]);
    for (const app of apps) {
      expect(redisRotationStatus(app.client)).toMatchObject({ versionId: round.versionId, recoveries: 0 });
      expect(app.cache.status().presence).toMatchObject({ state: 'ok' });
    }
  }

  function nodeAt(index: number): RedisHandle {
    const node = cluster.nodes[index];
    if (!node) throw new Error(`the cluster has no node ${index}`);
    return node;
  }

  /**
   * The shard's master is taken away (`goAway`), then the rotation is sent while the shard has no
   * master; resolves once a replica took over and the cluster is ok.
   */
  function masterGoesAway(shard: ClusterShard, goAway: (master: number) => Promise<void>): Parameters<typeof rotateThrough>[1] {
    return async () => {
      const startedAt = Date.now();
      await goAway(shard.master);
      const failing = cluster.waitFailover(shard, startedAt);
      const rotation = await startRotation();
      return { failover: await failing, rotation };
    };
  }

  /**
   * The event was on the queue while the shard had no master, and could only be published after
   * the promotion: the rotation went through the failover, not around it.
   */
  function expectPublishedThroughFailover(round: Round): number {
    const publishedAt = published.find((p) => p.versionId === round.versionId)?.at ?? Number.NaN;
    expect(round.sentAt).toBeLessThan(round.failover.promotedAt);
    expect(publishedAt).toBeGreaterThanOrEqual(round.failover.promotedAt);
    return publishedAt;
  }

  it(
    'SIGKILL of the master holding {rotation-relay} mid-rotation: every subscriber on the new version within 5 s of the promotion, 0 failed operations, a truthful status',
    { timeout: 120_000 },
    async () => {
      // Prepare
      await restoreCluster();
      await startFleet('kill');
      const shard = await cluster.shardOf(KEYS.versions);
      await placeAroundShard(shard);

      // Act: the master dies, and the rotation is sent while its shard has no master.
      const round = await rotateThrough('SIGKILL', masterGoesAway(shard, (master) => nodeAt(master).kill()));

      // Assess
      expectRoundHeld(round, shard);
      expectPublishedThroughFailover(round);
    },
  );

  it(
    'a HUNG master holding {rotation-relay} (SIGSTOP) mid-rotation: the worker gives up on it and publishes on its successor, and every subscriber follows at once, 0 failed operations, a truthful status',
    { timeout: 120_000 },
    async () => {
      // Prepare: no cache is seeded on the node that will hang (see startFleet).
      await restoreCluster();
      const shard = await cluster.shardOf(KEYS.versions);
      await startFleet('hung', shard.master);
      await placeAroundShard(shard);

      // Act: the master hangs (its sockets stay open and silent), and the rotation is sent while
      // its shard has no master.
      const round = await rotateThrough('SIGSTOP', masterGoesAway(shard, (master) => cluster.freeze(master)));

      // Assess: not "5 s after the promotion". The worker's first publish went to the hung master
      // before the promotion and can only time out; the message then comes back after the
      // first-retry backoff (2^1 s, capped by the visibility timeout). So the publish lands
      // timeout + backoff after the event was sent (measured 7.03-7.07 s), whenever the promotion
      // happened: within 5 s of it only while the election takes over ~2.1 s (measured 2.1-2.8 s,
      // so 4.3-4.96 s), and over 5 s when it is quicker (node timeout 1 s + 0.5-1 s delay).
      // The bound that holds is from the send; the fleet's own part is measured from the publish.
      const backoffMs = Math.min(2, fixture.config().visibilityTimeoutSeconds) * 1_000;
      expectRoundHeld(round, shard, { since: round.sentAt, withinMs: WORKER_CONNECTION.commandTimeoutMs + backoffMs + REDELIVERY_SLACK_MS });
      const publishedAt = expectPublishedThroughFailover(round);
      const timedOut = retries.filter((at) => at > round.sentAt && at < publishedAt);
      expect(timedOut.length, 'the publish on the hung master to time out and be retried').toBeGreaterThan(0);
      for (const at of arrivals(round.versionId)) expect(at - publishedAt).toBeLessThanOrEqual(FOLLOWS_PUBLISH_WITHIN_MS);

      // Continued, the old master learns of the newer epoch and rejoins as a replica of its successor.
      await cluster.thaw(shard.master);
      await cluster.waitHealthy();
      expect(await cluster.shardOf(KEYS.versions)).toMatchObject({ master: round.failover.to, replicas: [shard.master] });
    },
  );

  it(
    'a planned CLUSTER FAILOVER of that shard mid-rotation: every subscriber on the new version within 5 s, 0 failed operations, a truthful status',
    { timeout: 120_000 },
    async () => {
      // Prepare: the old master steps down to a replica and keeps its subscribers' connections.
      await restoreCluster();
      await startFleet('planned');
      const shard = await cluster.shardOf(KEYS.versions);
      await placeAroundShard(shard);

      // Act: the rotation goes out and the shard switches over at the same time.
      const round = await rotateThrough('CLUSTER FAILOVER', async () => {
        const [rotation, failover] = await Promise.all([startRotation(), cluster.failOverManually(KEYS.versions)]);
        return { failover, rotation };
      });

      // Assess
      expectRoundHeld(round, shard);
    },
  );
});
