import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import type { RedisClientType, RedisClusterType } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionTerminatedError, CredentialsRejectedError } from '../../../src/sdk/rotating/errors.js';
import type { ValidateBeforeSwitch } from '../../../src/sdk/rotating/validated-switch.js';
import { createRotatingNodeRedis } from '../../../src/sdk/node-redis/node-redis-client.js';
import { createRotatingNodeRedisCluster } from '../../../src/sdk/node-redis/node-redis-cluster.js';
import { nodeRedisRotationStatus } from '../../../src/sdk/node-redis/rotation-status.js';
import type { NodeRedisRotationStatus } from '../../../src/sdk/node-redis/credential-follower.js';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { captureLogger, type CapturedLogger } from '../../support/log-capture.js';
import type { TestSecret } from '../../support/moto-secrets.js';
import { startRedisCluster, type RedisClusterHandle } from '../../support/redis-cluster.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent, moveCurrentEvent, rotationSucceededEvent } from '../../support/rotation-events.js';
import { instance, leakedValues, type Instance } from '../../support/subscribed-cache.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * The rotating node-redis client (`redis` v6) against a real redis-server whose ACL user's
 * password the test really changes (`ACL SETUSER u resetpass >new`: from then on only the new
 * one logs in), and against a real 3-master Redis Cluster. The credentials come the way they do in
 * production: a real CredentialCache reading Secrets Manager (moto_server), subscribed to the
 * invalidations the real worker publishes from the events it gets on SQS (fauxqs). A rotation is
 * the single-user rotation Lambda's steps: createSecret (AWSPENDING), setSecret (ACL SETUSER),
 * finishSecret (AWSCURRENT moves), then the events AWS sends.
 *
 * The `default` user has a password on every server, as on ElastiCache: a refused login leaves
 * the connection unauthenticated, so the commands queued behind it are answered NOAUTH, which is
 * the case the client must absorb.
 *
 * Re-logins: Redis never re-checks an authenticated connection, so the test makes the client log
 * in again with CLIENT KILL USER. The load loops are parked for the instant of each kill and
 * resume as soon as the client has seen its connection close: a command on the wire when the
 * server cuts a connection fails in node-redis whatever the credentials (it may have run, and
 * node-redis resends nothing), which is not what these tests measure. Every command the loops
 * issue while the client reconnects queues behind the new login, refused or not.
 */

/** Emergency revokes in the load test (each drops the connection once; at most LOOPS failures each, under the load's cap of 20). */
const REVOKES = 4;
const ADMIN_PASSWORD = `admin-${randomBytes(12).toString('base64url')}`;
const LOOPS = 4;

interface RedisSecret {
  username: string;
  password: string;
}

let relay: RelayFixture;
let outcomes: MessageOutcome[] = [];
let server: RedisHandle;
let admin: Redis;
let cluster: RedisClusterHandle;
let clusterAdmins: Redis[] = [];
let userCounter = 0;
const logs: CapturedLogger[] = [];
const apps: Instance[] = [];
const closers: Array<() => Promise<unknown>> = [];
const report: Record<string, unknown> = {};

beforeAll(async () => {
  const started = await Promise.allSettled([RelayFixture.start(), startRedis({ password: ADMIN_PASSWORD }), startRedisCluster({ masters: 3 })] as const);
  const [fixture, redis, redisCluster] = started;
  if (fixture.status === 'rejected' || redis.status === 'rejected' || redisCluster.status === 'rejected') {
    await Promise.allSettled(started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.stop()] : [])));
    throw started.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason;
  }
  relay = fixture.value;
  server = redis.value;
  cluster = redisCluster.value;
  ({ outcomes } = await relay.startWorker());
  admin = new Redis({ host: server.host, port: server.port, password: ADMIN_PASSWORD, connectionName: 'admin' });
  // The cluster's nodes start with an open default user; close it as on the standalone server.
  clusterAdmins = await Promise.all(
    cluster.nodes.map(async (node) => {
      const nodeAdmin = new Redis({ host: node.host, port: node.port, connectionName: 'admin' });
      await nodeAdmin.call('ACL', 'SETUSER', 'default', 'resetpass', `>${ADMIN_PASSWORD}`);
      return nodeAdmin;
    }),
  );
}, 90_000);

afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
  await Promise.all(apps.splice(0).map((app) => app.cache.stop()));
});

afterAll(async () => {
  admin?.disconnect();
  for (const nodeAdmin of clusterAdmins) nodeAdmin.disconnect();
  await Promise.allSettled([relay?.stop(), server?.stop(), cluster?.stop()]);
  // Every log line the clients and caches wrote, scanned for every value every secret held.
  const text = logs.flatMap((l) => l.lines()).join('\n');
  expect(text.length).toBeGreaterThan(0);
  expect(leakedValues(text, relay?.created.flatMap((secret) => secret.values) ?? [])).toEqual([]);
  console.log(`node-redis rotation numbers: ${JSON.stringify(report)}`);
});

const newPassword = (): string => `pw-${randomBytes(12).toString('base64url')}`;
const value = (user: string, password: string): string => JSON.stringify({ username: user, password } satisfies RedisSecret);

/** The admin connections of the servers a test's user lives on. */
type Target = 'standalone' | 'cluster';
const adminsOf = (target: Target): Redis[] => (target === 'standalone' ? [admin] : clusterAdmins);

async function createUser(target: Target): Promise<{ user: string; password: string }> {
  userCounter += 1;
  const user = `app_${userCounter}`;
  const password = newPassword();
  for (const a of adminsOf(target)) await a.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all');
  return { user, password };
}

/** setSecret: from here the servers accept only `password` for new logins; logged-in connections stay. */
async function setPassword(target: Target, user: string, password: string): Promise<void> {
  for (const a of adminsOf(target)) await a.call('ACL', 'SETUSER', user, 'resetpass', `>${password}`);
}

/** A secret in moto holding the user's credentials, and a started cache subscribed to the worker's invalidations. */
async function appFor(user: string, password: string): Promise<{ secret: TestSecret; app: Instance }> {
  const secret = await relay.secrets.create(`app/node-redis-${userCounter}-${randomBytes(3).toString('hex')}`, value(user, password));
  relay.created.push(secret);
  // 0: every refused login makes the cache read AWSCURRENT itself (the default, 1 s, would answer
  // from the start-up read a moment ago); these tests count those reads.
  const app = instance(relay, { authFailureMinIntervalMs: 0, secrets: { cache: { secretId: secret.arn, json: true } } });
  logs.push(app.logs);
  apps.push(app);
  await app.cache.start();
  await waitUntil(() => app.cache.status().pubsub.connected, { message: 'the cache subscribed to invalidations' });
  return { secret, app };
}

function logger(): CapturedLogger['logger'] {
  const log = captureLogger({ test: 'node-redis-rotation' });
  logs.push(log);
  return log.logger;
}

/** The events one finished rotation produces, through SQS to the worker. */
async function deliverEvents(secret: TestSecret, newVersion: string, oldVersion: string): Promise<void> {
  for (const event of [moveCurrentEvent(secret.arn, newVersion, oldVersion), rotationSucceededEvent(secret.arn), labelUpdatedEvent(secret.arn, newVersion)]) {
    await relay.send(event);
  }
}

/** GetSecretValue calls of one cache from the `from`-th on, by stage: what a recovery cost in Secrets Manager. */
function readsByStage(app: Instance, from: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const read of app.counting.reads.slice(from)) {
    const stage = read.VersionStage ?? 'AWSCURRENT';
    counts[stage] = (counts[stage] ?? 0) + 1;
  }
  return counts;
}

/** Delivers a finished rotation's events and waits until the worker has handled all three. */
async function deliverAndWait(secret: TestSecret, newVersion: string, oldVersion: string): Promise<void> {
  const before = outcomes.length;
  await deliverEvents(secret, newVersion, oldVersion);
  await waitUntil(() => outcomes.length >= before + 3, { message: 'the worker to handle the rotation events', timeoutMs: 15_000 });
}

type Client = RedisClientType | RedisClusterType;

function status(client: Client): NodeRedisRotationStatus {
  const found = nodeRedisRotationStatus(client);
  if (!found) throw new Error('not a rotating node-redis client');
  return found;
}

/** The rotating clients' own options a test adds. */
interface Extras {
  validateBeforeSwitch?: ValidateBeforeSwitch;
}

/** A rotating standalone client for `user`'s secret, connected, with its error and reconnect counts. */
async function standaloneClient(app: Instance, extras: Extras = {}) {
  const client: RedisClientType = createRotatingNodeRedis(app.cache, 'cache', { socket: { host: server.host, port: server.port }, logger: logger(), ...extras });
  const events = { reconnecting: 0, errors: [] as string[] };
  client.on('error', (err: Error) => events.errors.push(err.message));
  client.on('reconnecting', () => (events.reconnecting += 1));
  closers.push(() => client.close());
  await client.connect();
  return { client, events, reconnectEvent: 'reconnecting' as const };
}

/** A rotating cluster client on the 3-master cluster, connected. */
async function clusterClient(app: Instance, extras: Extras = {}) {
  const client: RedisClusterType = createRotatingNodeRedisCluster(app.cache, 'cache', {
    rootNodes: cluster.nodes.map((node) => ({ socket: { host: node.host, port: node.port } })),
    logger: logger(),
    ...extras,
  });
  const events = { reconnecting: 0, errors: [] as string[] };
  client.on('error', (err: Error) => events.errors.push(err.message));
  client.on('node-error', (err: Error) => events.errors.push(err.message));
  client.on('node-reconnecting', () => (events.reconnecting += 1));
  closers.push(() => client.close());
  await client.connect();
  return { client, events, reconnectEvent: 'node-reconnecting' as const };
}

/**
 * LOOPS concurrent SET-then-GET loops, each on a key of its own hash tag (in the cluster, tags 0–3
 * land on all three masters), each GET checked against the value just written. A rejected command
 * or a wrong value is a failure, counted with its time and error class, never thrown.
 */
function startLoad(client: Client) {
  let running = true;
  let operations = 0;
  const perLoop = Array.from({ length: LOOPS }, () => 0);
  const failures: Array<{ at: number; name: string; message: string }> = [];
  const latencies: number[] = [];
  let gate: Promise<void> | undefined;
  let open: () => void = () => {};
  let parked = 0;
  const loop = async (id: number): Promise<void> => {
    for (let i = 0; running; i += 1) {
      if (gate) {
        parked += 1;
        await gate;
        parked -= 1;
      }
      const key = `load:{${id}}:${i % 20}`;
      const started = performance.now();
      try {
        await client.set(key, `${id}-${i}`);
        if ((await client.get(key)) !== `${id}-${i}`) throw new Error(`GET ${key} returned another value`);
      } catch (err) {
        failures.push({ at: Date.now(), name: (err as Error).name, message: (err as Error).message });
        if (failures.length >= 20) running = false; // a broken client must fail the test, not spin
      } finally {
        operations += 1;
        perLoop[id] = (perLoop[id] ?? 0) + 1;
        latencies.push(performance.now() - started);
      }
    }
  };
  const done = Promise.all(Array.from({ length: LOOPS }, (_, id) => loop(id)));
  return {
    failures,
    async more(n: number): Promise<void> {
      const target = operations + n;
      await waitUntil(() => operations >= target, { timeoutMs: 15_000, message: `${n} more operations under load` });
    },
    /** Waits until every loop has finished `n` more operations: each shard (node) served again. */
    async moreEach(n: number): Promise<void> {
      const targets = perLoop.map((count) => count + n);
      await waitUntil(() => perLoop.every((count, i) => count >= (targets[i] ?? 0)), { timeoutMs: 15_000, message: `${n} more operations on every loop` });
    },
    /** Holds every loop before its next operation; resolves once none has a command in flight. */
    async park(): Promise<void> {
      gate = new Promise((resolve) => (open = resolve));
      await waitUntil(() => parked === LOOPS || !running, { message: 'the load loops to park' });
    },
    resume(): void {
      gate = undefined;
      open();
    },
    async stop() {
      running = false;
      this.resume();
      await done;
      const sorted = [...latencies].sort((a, b) => a - b);
      return { operations, failures, p99Ms: round(sorted[Math.floor(sorted.length * 0.99)] ?? 0), maxMs: round(sorted.at(-1) ?? 0) };
    },
  };
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** A rotating client and the event it emits when one of its connections closed and it reconnects. */
interface Connected {
  client: Client;
  reconnectEvent: 'reconnecting' | 'node-reconnecting';
  events: { errors: string[]; reconnecting: number };
}

/**
 * Makes `user`'s connection on each server in `nodes` log in again: parks the load, CLIENT KILL
 * USER there, and resumes the load from inside the client's reconnect event of the last of those
 * connections. Resuming there, synchronously, queues the loops' next commands before that
 * connection's new handshake is written (the TCP connect takes an I/O turn), so they go out behind
 * it: a refused login then really takes queued commands down with it. Every client here holds
 * exactly one connection per server (no replicas, no pub/sub), so `nodes.length` reconnects are due.
 */
async function relogin(target: Target, user: string, load: ReturnType<typeof startLoad>, connected: Connected, nodes?: number[]): Promise<void> {
  const admins = adminsOf(target).filter((_, i) => nodes === undefined || nodes.includes(i));
  await load.park();
  const emitter = connected.client as unknown as NodeJS.EventEmitter;
  let seen = 0;
  const allSeen = new Promise<void>((resolve) => {
    const onReconnect = (): void => {
      seen += 1;
      if (seen < admins.length) return;
      emitter.off(connected.reconnectEvent, onReconnect);
      load.resume();
      resolve();
    };
    emitter.on(connected.reconnectEvent, onReconnect);
  });
  let killed = 0;
  for (const a of admins) killed += Number(await a.call('CLIENT', 'KILL', 'USER', user));
  expect(killed).toBe(admins.length);
  await waitUntil(() => seen >= admins.length, { message: `the client to see ${admins.length} connection(s) close` });
  await allSeen;
}

/** Does `password` log `user` in on the standalone server (a fresh connection)? */
async function loginWorks(user: string, password: string): Promise<boolean> {
  const probe = new Redis({ host: server.host, port: server.port, username: user, password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.call('ACL', 'WHOAMI')) === user;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

describe('createRotatingNodeRedis against a real redis-server, credentials from moto through the worker', () => {
  it('follows 6 single-user rotations under load (invalidation first; re-login inside the window; re-login before a late event) with 0 failed commands', async () => {
    // Prepare
    const { user, password } = await createUser('standalone');
    const { secret, app } = await appFor(user, password);
    const cacheListeners = app.cache.listenerCount('rotated');
    const connected = await standaloneClient(app);
    const { client, events } = connected;
    const load = startLoad(client);
    await load.more(200);
    const kinds = ['invalidation first', 'inside the window', 'late event'] as const;

    // Act
    for (let i = 0; i < 6; i += 1) {
      const kind = kinds[i % 3];
      const oldVersion = secret.versionId;
      const next = newPassword();
      const pending = await relay.secrets.putPending(secret, value(user, next)); // createSecret
      await setPassword('standalone', user, next); // setSecret: only `next` logs in from here
      await load.more(100); // logged-in connections keep working: Redis does not re-check them
      if (kind === 'inside the window') await relogin('standalone', user, load, connected); // refused → AWSPENDING
      await relay.secrets.moveCurrent(secret, pending); // finishSecret
      if (kind === 'late event') await relogin('standalone', user, load, connected); // refused → refreshed AWSCURRENT
      await deliverAndWait(secret, pending, oldVersion);
      await waitUntil(() => status(client).versionId === pending && status(client).mode === 'current', { message: `the client on ${pending}`, timeoutMs: 15_000 });
      if (kind === 'invalidation first') await relogin('standalone', user, load, connected); // the new password at once
      await load.more(200);
    }
    const result = await load.stop();

    // Assess
    expect(result.failures).toEqual([]);
    // One refused login per re-login before the invalidation (4), none after it (2).
    // Without validateBeforeSwitch every rotation switches at once, unchecked (none was counted).
    expect(status(client)).toMatchObject({ versionId: secret.versionId, mode: 'current', authFailures: 4, recoveries: 4, pendingReads: 2, unrecovered: 0, switches: 6, validationFailures: 0, commandRetry: true });
    expect(status(client).retriedCommands).toBeGreaterThanOrEqual(4);
    expect(events.errors.filter((m) => /WRONGPASS/.test(m))).toHaveLength(4);
    expect(await client.sendCommand(['ACL', 'WHOAMI'])).toBe(user);
    expect(await loginWorks(user, password)).toBe(false);
    // A closed client stops following the secret (no listener left behind per client).
    expect(app.cache.listenerCount('rotated')).toBe(cacheListeners + 1);
    await client.close();
    expect(app.cache.listenerCount('rotated')).toBe(cacheListeners);
    report.rotations = { rotations: 6, ...result, failures: result.failures.length, retriedCommands: status(client).retriedCommands };
  });

  it('the WRONGPASS path: AWSCURRENT moved and the server changed, no event yet; the re-login is refused, the client refreshes and retries the commands, 0 failed', async () => {
    // Prepare
    const { user, password } = await createUser('standalone');
    const { secret, app } = await appFor(user, password);
    const connected = await standaloneClient(app);
    const { client, events } = connected;
    const load = startLoad(client);
    await load.more(200);
    const oldVersion = secret.versionId;
    const next = newPassword();

    // Act: the whole rotation ran, its events are late; then every connection logs in again
    const pending = await relay.secrets.putPending(secret, value(user, next));
    await setPassword('standalone', user, next);
    await relay.secrets.moveCurrent(secret, pending);
    const readsBefore = app.counting.reads.length;
    await relogin('standalone', user, load, connected);
    await load.more(300);
    const afterRecovery = status(client);
    const recoveryReads = readsByStage(app, readsBefore);
    await deliverAndWait(secret, pending, oldVersion); // late: a no-op for the client
    await load.more(200);
    const result = await load.stop();

    // Assess
    expect(result.failures).toEqual([]);
    expect(afterRecovery).toMatchObject({ versionId: pending, mode: 'current', authFailures: 1, recoveries: 1, reportAuthFailureCalls: 1, pendingReads: 0, switches: 1, unrecovered: 0 });
    // The commands queued behind the refused login were answered NOAUTH and sent again.
    expect(afterRecovery.retriedCommands).toBeGreaterThan(0);
    expect(recoveryReads).toEqual({ AWSCURRENT: 1 });
    expect(app.rotations.filter((r) => r.versionId === pending).map((r) => r.trigger)).toEqual(['auth-failure']);
    expect(status(client)).toMatchObject({ versionId: pending, switches: 1 });
    expect(await client.sendCommand(['ACL', 'WHOAMI'])).toBe(user);
    report.wrongpass = { ...result, failures: result.failures.length, retriedCommands: afterRecovery.retriedCommands, refusedLoginErrorEvents: events.errors.filter((m) => /WRONGPASS/.test(m)).length };
  });

  it('the AWSPENDING fallback: setSecret ran, finishSecret did not; the refused re-login finds AWSPENDING, then leaves pending mode when AWSCURRENT catches up', async () => {
    // Prepare
    const { user, password } = await createUser('standalone');
    const { secret, app } = await appFor(user, password);
    const connected = await standaloneClient(app);
    const { client, events } = connected;
    const load = startLoad(client);
    await load.more(200);
    const oldVersion = secret.versionId;
    const next = newPassword();

    // Act: inside the window no event can close, every connection logs in again
    const pending = await relay.secrets.putPending(secret, value(user, next)); // createSecret
    await setPassword('standalone', user, next); // setSecret
    await relogin('standalone', user, load, connected);
    await load.more(300);
    const inWindow = status(client);
    await relay.secrets.moveCurrent(secret, pending); // finishSecret
    await deliverAndWait(secret, pending, oldVersion);
    await waitUntil(() => status(client).mode === 'current', { message: 'the client to leave pending mode', timeoutMs: 15_000 });
    await load.more(200);
    const result = await load.stop();

    // Assess
    expect(result.failures).toEqual([]);
    expect(inWindow).toMatchObject({ versionId: pending, mode: 'pending', authFailures: 1, recoveries: 1, reportAuthFailureCalls: 1, pendingReads: 1, switches: 1 });
    expect(inWindow.retriedCommands).toBeGreaterThan(0);
    // AWSCURRENT caught up with the version in use: same credentials, no new switch, no new refusal.
    expect(status(client)).toMatchObject({ versionId: pending, mode: 'current', switches: 1, authFailures: 1 });
    expect(app.counting.reads.filter((read) => read.VersionStage === 'AWSPENDING')).toHaveLength(1);
    expect(events.errors.filter((m) => /WRONGPASS/.test(m))).toHaveLength(1); // node-redis reports the refused login; nothing failed
    report.awsPending = { ...result, failures: result.failures.length, retriedCommands: inWindow.retriedCommands };
  });

  it('rejects commands with CredentialsRejectedError when no version of the secret works, keeps reconnecting, and recovers once the secret holds the password', async () => {
    // Prepare
    const { user, password } = await createUser('standalone');
    const { secret, app } = await appFor(user, password);
    const connected = await standaloneClient(app);
    const { client, events } = connected;
    const serverOnly = newPassword();

    // Act: the server's password changes and no secret version holds it
    await setPassword('standalone', user, serverOnly);
    const closed = events.reconnecting;
    await admin.call('CLIENT', 'KILL', 'USER', user);
    await waitUntil(() => events.reconnecting > closed, { message: 'the client to see its connection close' });
    const rejected: unknown = await client.set('k', 'v').then(() => undefined, (err: unknown) => err);
    const reconnects = events.reconnecting;
    await waitUntil(() => events.reconnecting > reconnects + 1, { message: 'node-redis to keep reconnecting' });
    // Someone fixes the secret (AWSCURRENT = the server's password): the next refused login finds it.
    const fixed = await relay.secrets.putPending(secret, value(user, serverOnly));
    await relay.secrets.moveCurrent(secret, fixed);
    await waitUntil(() => client.isReady, { message: 'the client to log in with the fixed secret', timeoutMs: 15_000 });

    // Assess
    expect(rejected).toBeInstanceOf(CredentialsRejectedError);
    expect((rejected as CredentialsRejectedError).secretName).toBe('cache');
    expect(String((rejected as CredentialsRejectedError).cause)).toMatch(/WRONGPASS|NOAUTH/);
    expect(events.errors.some((m) => /WRONGPASS/.test(m))).toBe(true);
    expect(await client.set('k', 'v')).toBe('OK');
    expect(status(client)).toMatchObject({ versionId: fixed, recoveries: 1 });
    expect(status(client).unrecovered).toBeGreaterThanOrEqual(1);
  });
});

describe('createRotatingNodeRedisCluster against a real 3-master Redis Cluster', () => {
  it('keeps 4 loops on all three masters failure-free through a missed-invalidation rotation and an AWSPENDING window, and connects inside the window', async () => {
    // Prepare
    const { user, password } = await createUser('cluster');
    const { secret, app } = await appFor(user, password);
    const connected = await clusterClient(app);
    const { client } = connected;
    const load = startLoad(client);
    await load.more(200);

    // Act 1: a whole rotation whose events are late; every node connection logs in again
    let oldVersion = secret.versionId;
    const firstPassword = newPassword();
    const first = await relay.secrets.putPending(secret, value(user, firstPassword));
    await setPassword('cluster', user, firstPassword);
    await relay.secrets.moveCurrent(secret, first);
    await relogin('cluster', user, load, connected);
    await load.moreEach(50);
    const afterMissed = status(client);
    await deliverAndWait(secret, first, oldVersion);

    // Act 2: inside the next rotation's window, the first master's connection logs in again (its
    // handshake is refused for sure: no recovery is in flight yet), and a new cluster client starts
    oldVersion = secret.versionId;
    const secondPassword = newPassword();
    const second = await relay.secrets.putPending(secret, value(user, secondPassword));
    await setPassword('cluster', user, secondPassword);
    await relogin('cluster', user, load, connected, [0]);
    await load.moreEach(50);
    const inWindow = status(client);
    const late = await clusterClient(app); // discovery's first login is refused: connect() must still succeed
    const lateAnswer = await late.client.set('late:{3}', 'ok');
    await relay.secrets.moveCurrent(secret, second);
    await deliverAndWait(secret, second, oldVersion);
    await waitUntil(() => status(client).versionId === second && status(client).mode === 'current', { message: 'the cluster client on the new AWSCURRENT', timeoutMs: 15_000 });
    await load.more(200);
    const result = await load.stop();

    // Assess
    expect(result.failures).toEqual([]);
    expect(afterMissed).toMatchObject({ versionId: first, mode: 'current', recoveries: 1, pendingReads: 0, commandRetry: true });
    expect(afterMissed.authFailures).toBeGreaterThanOrEqual(1); // one per node connection refused, one shared refresh
    expect(afterMissed.reportAuthFailureCalls).toBe(1);
    expect(inWindow).toMatchObject({ versionId: second, mode: 'pending', recoveries: 2, pendingReads: 1 });
    expect(inWindow.retriedCommands).toBeGreaterThan(0);
    expect(lateAnswer).toBe('OK');
    expect(status(late.client)).toMatchObject({ versionId: second, commandRetry: true });
    expect(status(late.client).authFailures).toBeGreaterThanOrEqual(1);
    expect(await client.sendCommand(undefined, true, ['ACL', 'WHOAMI'])).toBe(user);
    report.cluster = { ...result, failures: result.failures.length, retriedCommands: inWindow.retriedCommands, refusedNodeLogins: inWindow.authFailures };
  }, 60_000);
});

/** One line of CLIENT LIST as its fields (`id`, `user`, `cmd`, …). */
function clientFields(line: string): Record<string, string> {
  return Object.fromEntries(line.trim().split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

/** The connections logged in as `user` on one server, by CLIENT LIST as the admin (`default`) user. */
async function connectionsOf(a: Redis, user: string): Promise<Array<Record<string, string>>> {
  const list = String(await a.call('CLIENT', 'LIST'));
  return list.split('\n').filter((line) => line.trim() !== '').map(clientFields).filter((fields) => fields.user === user);
}

/**
 * A rotation to another user with the old one left as it is (alternating users, or ElastiCache
 * ROTATE's overlap): the old password still logs in, so nothing makes the client's connections
 * log in again — they stay on the old user until an emergency revoke drops them.
 */
async function rotateToUser(secret: TestSecret, user: string, password: string): Promise<string> {
  const oldVersion = secret.versionId;
  const pending = await relay.secrets.putPending(secret, value(user, password));
  await relay.secrets.moveCurrent(secret, pending);
  await deliverAndWait(secret, pending, oldVersion);
  return pending;
}

describe('emergency revoke (the cache\'s `revoked` event): every connection drops and logs in again with the current credentials', () => {
  it('standalone: the connection still on the old user is gone at once, the commands waiting for a reply on it fail with ConnectionTerminatedError, the next command runs as the new user', async () => {
    // Prepare: logged in as A; the secret rotates to B while A still logs in
    const a = await createUser('standalone');
    const b = await createUser('standalone');
    const { secret, app } = await appFor(a.user, a.password);
    const versionA = secret.versionId;
    const revokedListeners = app.cache.listenerCount('revoked');
    const { client, events } = await standaloneClient(app);
    const oldId = String(await client.sendCommand(['CLIENT', 'ID']));
    const next = await rotateToUser(secret, b.user, b.password);
    await waitUntil(() => status(client).versionId === next, { message: 'the client on B for new logins', timeoutMs: 15_000 });
    expect((await connectionsOf(admin, a.user)).map((c) => c.id)).toEqual([oldId]); // still on A: nothing re-checks it
    expect(await client.sendCommand(['ACL', 'WHOAMI'])).toBe(a.user);
    // In flight for sure: a BLPOP the server holds, and a SET written behind it (waiting for its reply).
    const settle = (p: Promise<unknown>): Promise<unknown> => p.then((reply) => ({ reply }), (err: unknown) => err);
    const blocked = settle(client.blPop('revoke:empty', 4));
    const behind = settle(client.set('revoke:behind', 'a'));
    await waitUntil(async () => (await connectionsOf(admin, a.user)).some((c) => c.id === oldId && c.cmd === 'blpop'), { message: 'BLPOP in flight on the old connection' });

    // Act
    const revokedAt = performance.now();
    await app.cache.forceRefresh('cache', { terminateOld: true });
    const queued = settle(client.set('revoke:after', 'b')); // issued after the drop: not written yet
    await waitUntil(async () => (await connectionsOf(admin, a.user)).length === 0, { message: 'the connection logged in as the old user to be gone', timeoutMs: 2_000, intervalMs: 5 });
    const goneMs = performance.now() - revokedAt;
    const whoami = await client.sendCommand(['ACL', 'WHOAMI']);
    const answeredMs = performance.now() - revokedAt;
    const newId = String(await client.sendCommand(['CLIENT', 'ID']));

    // Assess
    const inFlight = [await blocked, await behind];
    for (const err of inFlight) {
      expect(err).toBeInstanceOf(ConnectionTerminatedError);
      expect(err).toMatchObject({ code: 'CONNECTION_TERMINATED', secretName: 'cache', versionId: versionA });
    }
    expect(await queued).toEqual({ reply: 'OK' });
    expect(whoami).toBe(b.user);
    expect(Number(newId)).toBeGreaterThan(Number(oldId)); // a new connection, created after the revoke
    expect((await connectionsOf(admin, b.user)).map((c) => c.id)).toEqual([newId]);
    expect(status(client)).toMatchObject({ versionId: next, mode: 'current', terminations: 1, connectionDrop: true, authFailures: 0 });
    expect(events.errors.filter((m) => /emergency revoke/.test(m))).toHaveLength(1); // node-redis emits the drop once, as 'error'
    // A closed client stops following revokes too (no listener left behind per client).
    expect(app.cache.listenerCount('revoked')).toBe(revokedListeners + 1);
    await client.close();
    expect(app.cache.listenerCount('revoked')).toBe(revokedListeners);
    report.revokeStandalone = { oldConnectionGoneMs: round(goneMs), nextCommandAnsweredMs: round(answeredMs) };
  });

  it('standalone under 4 loops: the revoke fails at most the one command each loop had waiting for a reply, with ConnectionTerminatedError; the rest run as the new user', async () => {
    // Prepare
    const a = await createUser('standalone');
    const b = await createUser('standalone');
    const { secret, app } = await appFor(a.user, a.password);
    const { client } = await standaloneClient(app);
    const next = await rotateToUser(secret, b.user, b.password);
    await waitUntil(() => status(client).versionId === next, { message: 'the client on B for new logins', timeoutMs: 15_000 });
    const load = startLoad(client);
    await load.more(200);

    // Act: REVOKES revokes, each once the loops have run 100 operations more
    for (let i = 0; i < REVOKES; i += 1) {
      await app.cache.forceRefresh('cache', { terminateOld: true });
      await load.more(100);
    }
    const result = await load.stop();

    // Assess
    expect(result.failures.length).toBeLessThanOrEqual(LOOPS * REVOKES);
    expect([...new Set(result.failures.map((f) => f.name))]).toEqual(result.failures.length > 0 ? ['ConnectionTerminatedError'] : []);
    expect(await connectionsOf(admin, a.user)).toEqual([]);
    expect(await client.sendCommand(['ACL', 'WHOAMI'])).toBe(b.user);
    expect(status(client)).toMatchObject({ terminations: REVOKES, authFailures: 0 });
    report.revokeStandaloneLoad = { revokes: REVOKES, operations: result.operations, failedInFlight: result.failures.length, p99Ms: result.p99Ms, maxMs: result.maxMs };
  });

  it('Cluster: every node connection on the old user is gone, each master answers as the new user, one termination', async () => {
    // Prepare
    const a = await createUser('cluster');
    const b = await createUser('cluster');
    const { secret, app } = await appFor(a.user, a.password);
    const { client } = await clusterClient(app);
    for (let tag = 0; tag < LOOPS; tag += 1) await client.set(`revoke:{${tag}}`, 'a'); // a connection to every master
    const next = await rotateToUser(secret, b.user, b.password);
    await waitUntil(() => status(client).versionId === next, { message: 'the cluster client on B for new logins', timeoutMs: 15_000 });
    const onA = await Promise.all(clusterAdmins.map((nodeAdmin) => connectionsOf(nodeAdmin, a.user)));
    expect(onA.map((conns) => conns.length)).toEqual(clusterAdmins.map(() => 1));
    const load = startLoad(client);
    await load.moreEach(50);

    // Act
    await app.cache.forceRefresh('cache', { terminateOld: true });
    await waitUntil(async () => (await Promise.all(clusterAdmins.map((nodeAdmin) => connectionsOf(nodeAdmin, a.user)))).every((conns) => conns.length === 0), {
      message: 'every node connection logged in as the old user to be gone',
      timeoutMs: 2_000,
      intervalMs: 5,
    });
    await load.moreEach(50);
    const result = await load.stop();
    for (let tag = 0; tag < LOOPS; tag += 1) expect(await client.set(`revoke:{${tag}}`, 'b')).toBe('OK');

    // Assess
    const onB = await Promise.all(clusterAdmins.map((nodeAdmin) => connectionsOf(nodeAdmin, b.user)));
    expect(onB.map((conns) => conns.length)).toEqual(clusterAdmins.map(() => 1));
    expect(await client.sendCommand(undefined, true, ['ACL', 'WHOAMI'])).toBe(b.user);
    expect(status(client)).toMatchObject({ versionId: next, terminations: 1, connectionDrop: true, authFailures: 0 });
    expect(result.failures.length).toBeLessThanOrEqual(LOOPS);
    expect([...new Set(result.failures.map((f) => f.name))]).toEqual(result.failures.length > 0 ? ['ConnectionTerminatedError'] : []);
    report.revokeCluster = { operations: result.operations, failedInFlight: result.failures.length, p99Ms: result.p99Ms, maxMs: result.maxMs };
  }, 60_000);
});

/** Fast retries of refused checks, so a test sees several within a second. */
const VALIDATE: Extras = { validateBeforeSwitch: { retryBackoff: { minMs: 50, maxMs: 200 } } };

/** The validation failures the cache counted (`recordValidationFailure`), for the status to be compared with. */
const cacheValidationFailures = (app: Instance): number => app.cache.status().counts.credentialValidationFailures ?? 0;

describe('validateBeforeSwitch: a new version reaches new logins only after one login with it succeeded', () => {
  it('standalone under 4 loops: while the server refuses the new password, re-logins use the old one; once it accepts it, the client switches and logs in with it: 0 failed commands', async () => {
    // Prepare
    const { user, password } = await createUser('standalone');
    const { secret, app } = await appFor(user, password);
    const connected = await standaloneClient(app, VALIDATE);
    const { client, events } = connected;
    const load = startLoad(client);
    await load.more(200);
    const oldVersion = secret.versionId;
    const next = newPassword();

    // Act 1: the secret rotates (AWSCURRENT moves, the event arrives) before the server knows `next`
    const pending = await relay.secrets.putPending(secret, value(user, next));
    await relay.secrets.moveCurrent(secret, pending);
    await deliverAndWait(secret, pending, oldVersion);
    await waitUntil(() => app.cache.current('cache').versionId === pending, { message: 'the cache on the new version' });
    await waitUntil(() => status(client).validationFailures >= 2, { message: 'two refused checks' });
    await relogin('standalone', user, load, connected); // the server accepts only the old password: the re-login must use it
    await load.more(200);
    const whileRefused = status(client);
    const failuresSeen = { client: whileRefused.validationFailures, cache: cacheValidationFailures(app) };
    const newRefused = !(await loginWorks(user, next));

    // Act 2: the server learns `next` (both valid, as ElastiCache ROTATE or a late modify-user), then drops the old one
    await admin.call('ACL', 'SETUSER', user, `>${next}`);
    await waitUntil(() => status(client).versionId === pending, { message: 'the switch once the server accepts the new password' });
    await admin.call('ACL', 'SETUSER', user, `<${password}`);
    await relogin('standalone', user, load, connected); // only `next` logs in now
    await load.more(200);
    const result = await load.stop();

    // Assess
    expect(result.failures).toEqual([]);
    expect(newRefused).toBe(true);
    expect(whileRefused).toMatchObject({ versionId: oldVersion, mode: 'current', authFailures: 0, switches: 0 });
    // Every refused check is counted by the client and reported to the cache, one for one.
    expect(failuresSeen.client).toBeGreaterThanOrEqual(2);
    expect(failuresSeen.cache).toBe(failuresSeen.client);
    // The re-login after the switch used `next` (the old password no longer logs in): no refusal at all.
    expect(status(client)).toMatchObject({ versionId: pending, mode: 'current', authFailures: 0, recoveries: 0, switches: 1 });
    expect(events.errors.filter((m) => /WRONGPASS|NOAUTH/.test(m))).toEqual([]);
    expect(await client.sendCommand(['ACL', 'WHOAMI'])).toBe(user);
    expect(await loginWorks(user, password)).toBe(false);
    // No check's connection is left behind: the client's own connection is the user's only one.
    await waitUntil(async () => (await connectionsOf(admin, user)).length === 1, { message: 'the checks\' connections to be closed' });
    report.validateStandalone = { operations: result.operations, validationFailures: status(client).validationFailures, p99Ms: result.p99Ms, maxMs: result.maxMs };
  });

  it('Cluster: a rotation to a user the nodes do not have yet keeps every node connection on the old user through a re-login; once the user exists, new logins are the new user on every master', async () => {
    // Prepare: logged in as A; the secret rotates to B, which no node knows yet
    const a = await createUser('cluster');
    userCounter += 1;
    const b = { user: `app_${userCounter}`, password: newPassword() };
    const { secret, app } = await appFor(a.user, a.password);
    const connected = await clusterClient(app, VALIDATE);
    const { client } = connected;
    const load = startLoad(client);
    await load.moreEach(50); // a connection to every master

    // Act 1
    const oldVersion = secret.versionId;
    const next = await rotateToUser(secret, b.user, b.password);
    await waitUntil(() => status(client).validationFailures >= 1, { message: 'a refused check' });
    await relogin('cluster', a.user, load, connected); // every master's connection logs in again: as A
    await load.moreEach(50);
    const whileRefused = status(client);
    const failuresSeen = { client: whileRefused.validationFailures, cache: cacheValidationFailures(app) };
    const onAWhileRefused = await Promise.all(clusterAdmins.map((nodeAdmin) => connectionsOf(nodeAdmin, a.user)));

    // Act 2: B is created on every node; then A's connections log in again
    for (const nodeAdmin of clusterAdmins) await nodeAdmin.call('ACL', 'SETUSER', b.user, 'on', `>${b.password}`, '~*', '&*', '+@all');
    await waitUntil(() => status(client).versionId === next, { message: 'the switch once the nodes accept B', timeoutMs: 15_000 });
    await relogin('cluster', a.user, load, connected);
    await load.moreEach(50);
    const result = await load.stop();

    // Assess
    expect(result.failures).toEqual([]);
    expect(whileRefused).toMatchObject({ versionId: oldVersion, authFailures: 0, switches: 0 });
    expect(onAWhileRefused.map((conns) => conns.length)).toEqual(clusterAdmins.map(() => 1));
    expect(failuresSeen.client).toBeGreaterThanOrEqual(1);
    expect(failuresSeen.cache).toBe(failuresSeen.client);
    expect(status(client)).toMatchObject({ versionId: next, authFailures: 0, switches: 1 });
    // One connection of B per master: the client's (the checks' connections are closed).
    const onB = async (): Promise<number[]> => (await Promise.all(clusterAdmins.map((nodeAdmin) => connectionsOf(nodeAdmin, b.user)))).map((conns) => conns.length);
    await waitUntil(async () => (await onB()).every((n) => n === 1), { message: 'one connection of B per master' });
    expect(await Promise.all(clusterAdmins.map((nodeAdmin) => connectionsOf(nodeAdmin, a.user)))).toEqual(clusterAdmins.map(() => []));
    for (let tag = 0; tag < LOOPS; tag += 1) expect(await client.sendCommand(`{${tag}}`, true, ['ACL', 'WHOAMI'])).toBe(b.user);
    report.validateCluster = { operations: result.operations, validationFailures: status(client).validationFailures, p99Ms: result.p99Ms, maxMs: result.maxMs };
  }, 60_000);

  it('an emergency revoke while a check waits for its retry adopts the current version unchecked: the connection on the old user drops and logs in again as the new one', async () => {
    // Prepare: logged in as A; the secret rotates to B, which the server does not have yet
    const a = await createUser('standalone');
    userCounter += 1;
    const b = { user: `app_${userCounter}`, password: newPassword() };
    const { secret, app } = await appFor(a.user, a.password);
    // A retry at least 30 s away: whatever happens next within this test is not a check passing.
    const { client } = await standaloneClient(app, { validateBeforeSwitch: { retryBackoff: { minMs: 30_000, maxMs: 60_000 } } });
    const oldVersion = secret.versionId;
    const next = await rotateToUser(secret, b.user, b.password);
    await waitUntil(() => status(client).validationFailures === 1, { message: 'the first check refused' });
    await admin.call('ACL', 'SETUSER', b.user, 'on', `>${b.password}`, '~*', '&*', '+@all'); // B logs in from here; A still does
    const beforeRevoke = status(client);

    // Act
    await app.cache.forceRefresh('cache', { terminateOld: true });
    await waitUntil(async () => (await connectionsOf(admin, a.user)).length === 0 && (await connectionsOf(admin, b.user)).length === 1, {
      message: 'the connection on A replaced by one on B',
      timeoutMs: 2_000,
      intervalMs: 5,
    });

    // Assess
    expect(beforeRevoke).toMatchObject({ versionId: oldVersion, switches: 0, validationFailures: 1 });
    expect(await client.sendCommand(['ACL', 'WHOAMI'])).toBe(b.user);
    expect(status(client)).toMatchObject({ versionId: next, mode: 'current', switches: 1, terminations: 1, validationFailures: 1, authFailures: 0 });
  });
});
