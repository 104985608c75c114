import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialCacheOptions } from '../../../src/sdk/cache/types.js';
import { CredentialsRejectedError, ResourceClosedError } from '../../../src/sdk/rotating/errors.js';
import { createRotatingMysql2Pool, type RotatingMysql2Pool, type RotatingMysql2PoolOptions } from '../../../src/sdk/mysql2/mysql2-pool.js';
import { startMariadb, type MariadbHandle } from '../../support/mariadb.js';
import type { TestSecret } from '../../support/moto-secrets.js';
import { captureLogger, type CapturedLogger } from '../../support/log-capture.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent, moveCurrentEvent, rotationSucceededEvent } from '../../support/rotation-events.js';
import { instance, leakedValues, type Instance } from '../../support/subscribed-cache.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * The rotating mysql2 pool against a real MariaDB (mysql_native_password): passwords really
 * change with ALTER USER, so a stale password really fails with 1045. The credentials come the
 * way they do in production: a real CredentialCache reading Secrets Manager (moto_server) and
 * subscribed to the invalidations the real worker publishes on Redis from the events it gets on
 * SQS (fauxqs). Each rotation is the single-user rotation Lambda's steps: createSecret
 * (PutSecretValue AWSPENDING), setSecret (ALTER USER: the old password is dead for new logins from
 * here), finishSecret (UpdateSecretVersionStage AWSCURRENT), then the events AWS sends for it.
 */

/**
 * Load: CHURN loops take a connection, run one query and destroy the connection, so every one of
 * their queries is a new login (mysql2 has no maxUses; a reused connection keeps its old login,
 * which MySQL does not end on ALTER USER, and would never see the rotation). REUSE loops run
 * pool.query / pool.execute on pooled connections, as an app does. connectionLimit is above the
 * number of loops, so nothing waits in mysql2's own queue (the queued case has a test of its own).
 */
const CHURN = 3;
const REUSE = 1;
const POOL: RotatingMysql2PoolOptions = { connectionLimit: 8 };
const DATABASE = 'rr_app';

interface RdsMysqlSecret {
  engine: 'mysql';
  host: string;
  port: number;
  username: string;
  password: string;
  dbname: string;
}

let relay: RelayFixture;
let server: MariadbHandle;
let admin: Connection;
let userCounter = 0;
const logs: CapturedLogger[] = [];
const openPools: RotatingMysql2Pool[] = [];
const apps: Instance[] = [];
/** Numbers for the closing note, printed once at the end. */
const report: Record<string, unknown> = {};

beforeAll(async () => {
  const started = await Promise.allSettled([RelayFixture.start(), startMariadb()] as const);
  const [fixture, mariadb] = started;
  if (fixture.status === 'rejected' || mariadb.status === 'rejected') {
    await Promise.allSettled(started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.stop()] : [])));
    throw started.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason;
  }
  relay = fixture.value;
  server = mariadb.value;
  await relay.startWorker();
  admin = await createConnection({ host: server.host, port: server.port, user: server.admin.user, password: server.admin.password });
  await admin.query(`CREATE DATABASE ${DATABASE}`);
  report.server = server.version;
});

afterEach(async () => {
  await Promise.all(openPools.splice(0).map((pool) => pool.end()));
  await Promise.all(apps.splice(0).map((app) => app.cache.stop()));
});

afterAll(async () => {
  await admin?.end();
  await Promise.allSettled([relay?.stop(), server?.stop()]);
  // Every log line the pools and caches wrote, scanned for every value every secret held.
  const text = logs.flatMap((l) => l.lines()).join('\n');
  expect(leakedValues(text, relay?.created.flatMap((secret) => secret.values) ?? [])).toEqual([]);
  console.log(`mysql2 rotation numbers: ${JSON.stringify(report, null, 2)}`);
});

const newPassword = (): string => `pw-${randomBytes(12).toString('base64url')}`;

async function createUser(): Promise<{ user: string; password: string }> {
  userCounter += 1;
  const user = `app_${userCounter}`;
  const password = newPassword();
  await admin.query(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('${password}')`);
  await admin.query(`GRANT SELECT ON ${DATABASE}.* TO '${user}'@'127.0.0.1'`);
  return { user, password };
}

/** setSecret: from here the server accepts only the new password for new logins. */
async function alterPassword(user: string, password: string): Promise<void> {
  await admin.query(`ALTER USER '${user}'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('${password}')`);
}

function value(user: string, password: string): string {
  return JSON.stringify({ engine: 'mysql', host: server.host, port: server.port, username: user, password, dbname: DATABASE } satisfies RdsMysqlSecret);
}

/**
 * The cache option the one-login tests set: the cache read AWSCURRENT at start a few ms before,
 * and its default (1 s) would answer the auth-failure refresh from that read instead of asking
 * Secrets Manager again: right for a login storm, but these tests want to see the refresh itself.
 */
const REFRESH_AT_ONCE: Partial<CredentialCacheOptions> = { authFailureMinIntervalMs: 0 };

/** A secret in moto holding the user's current credentials, and a started cache that follows it. */
async function appFor(user: string, password: string, cacheOptions: Partial<CredentialCacheOptions> = {}): Promise<{ secret: TestSecret; app: Instance }> {
  const secret = await relay.secrets.create(`app/mysql-${userCounter}-${randomBytes(3).toString('hex')}`, value(user, password));
  relay.created.push(secret);
  const app = instance(relay, { ...cacheOptions, secrets: { db: { secretId: secret.arn, json: true } } });
  logs.push(app.logs);
  apps.push(app);
  await app.cache.start();
  await waitUntil(() => app.cache.status().pubsub.connected, { message: 'the cache subscribed to invalidations' });
  return { secret, app };
}

function makePool(app: Instance, options: RotatingMysql2PoolOptions = POOL): RotatingMysql2Pool {
  const log = captureLogger({ test: 'mysql2-rotation' });
  logs.push(log);
  const pool = createRotatingMysql2Pool(app.cache, 'db', { ...options, logger: log.logger });
  openPools.push(pool);
  return pool;
}

/** The events one finished rotation produces, through SQS to the worker. */
async function deliverEvents(secret: TestSecret, newVersion: string, oldVersion: string): Promise<void> {
  for (const event of [moveCurrentEvent(secret.arn, newVersion, oldVersion), rotationSucceededEvent(secret.arn), labelUpdatedEvent(secret.arn, newVersion)]) {
    await relay.send(event);
  }
}

async function currentUser(run: Promise<[RowDataPacket[], unknown]>): Promise<string | undefined> {
  const [rows] = await run;
  return (rows[0] as { u?: string } | undefined)?.u?.split('@')[0];
}

/** Continuous load on `pool`: CHURN new-login loops and REUSE pooled loops, each query's latency recorded. */
function startLoad(pool: RotatingMysql2Pool, churn = CHURN, reuse = REUSE) {
  const samples: Array<{ start: number; ms: number }> = [];
  const failures: unknown[] = [];
  let running = true;
  const once = async (kind: 'churn' | 'reuse', i: number): Promise<void> => {
    if (kind === 'churn') {
      const connection = await pool.getConnection();
      try {
        await connection.query('SELECT 1 AS one');
      } finally {
        connection.destroy();
      }
    } else if (i % 2 === 0) {
      await pool.query('SELECT 1 AS one');
    } else {
      await pool.execute('SELECT ? AS one', [1]);
    }
  };
  const loop = async (kind: 'churn' | 'reuse'): Promise<void> => {
    for (let i = 0; running; i += 1) {
      const start = performance.now();
      try {
        await once(kind, i);
        samples.push({ start, ms: performance.now() - start });
      } catch (err) {
        failures.push(err);
        if (failures.length >= 20) running = false; // a broken pool must fail the test, not spin
      }
    }
  };
  const done = Promise.all([...Array.from({ length: churn }, () => loop('churn')), ...Array.from({ length: reuse }, () => loop('reuse'))]);
  return {
    samples,
    failures,
    get count() {
      return samples.length + failures.length;
    },
    /** Waits until `n` more queries have completed (whatever their outcome). */
    async more(n: number): Promise<void> {
      const target = samples.length + failures.length + n;
      await waitUntil(() => samples.length + failures.length >= target, { timeoutMs: 20_000, message: `${n} more queries under load` });
    },
    async stop(): Promise<void> {
      running = false;
      await done;
    },
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** Worst latency of the queries in flight during a rotation window (widened by 100 ms), and elsewhere. */
function latencyReport(samples: Array<{ start: number; ms: number }>, windows: Array<[number, number]>, marginMs = 100) {
  let around = 0;
  let elsewhere = 0;
  for (const s of samples) {
    const overlaps = windows.some(([from, to]) => s.start <= to + marginMs && s.start + s.ms >= from);
    if (overlaps) around = Math.max(around, s.ms);
    else elsewhere = Math.max(elsewhere, s.ms);
  }
  const all = samples.map((s) => s.ms);
  return { p50: round(percentile(all, 50)), p99: round(percentile(all, 99)), worstAroundRotation: round(around), worstElsewhere: round(elsewhere) };
}

/** Sessions the server has open for `user`, from its process list. */
async function sessionsOf(user: string): Promise<number> {
  const [rows] = await admin.query<Array<RowDataPacket & { n: number }>>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [user]);
  return Number(rows[0]?.n ?? 0);
}

describe('rotating mysql2 pool against a real MariaDB, credentials from moto through the worker', () => {
  it('(a) single-user rotations under continuous load: zero failed queries, in-flight work completes', async () => {
    const user = await createUser();
    const { secret, app } = await appFor(user.user, user.password);
    const pool = makePool(app);
    const load = startLoad(pool);
    await load.more(100);

    const ROTATIONS = 5;
    const windows: Array<[number, number]> = [];
    const perRotation: Array<{ failedLogins: number; reads: number; mode: string }> = [];
    for (let i = 0; i < ROTATIONS; i += 1) {
      const before = { failed: pool.rotation.stats.authFailures, reads: app.counting.reads.length };
      // Work that belongs to the old generation: a slow query and a checked-out connection.
      const slow = pool.query<Array<RowDataPacket & { done: string }>>("SELECT SLEEP(0.3) AS s, 'done' AS done");
      const held = await pool.getConnection();
      const heldVersion = pool.rotation.versionId;

      const password = newPassword();
      const from = performance.now();
      const oldVersion = secret.versionId;
      const pending = await relay.secrets.putPending(secret, value(user.user, password)); // createSecret
      await alterPassword(user.user, password); // setSecret: new logins with the old password fail from here
      await load.more(30); // new logins inside the window no event can close
      const modeInWindow = pool.rotation.mode;
      await relay.secrets.moveCurrent(secret, pending); // finishSecret
      await deliverEvents(secret, pending, oldVersion);
      await waitUntil(() => pool.rotation.versionId === pending && pool.rotation.mode === 'current', { message: `the pool on ${pending}`, timeoutMs: 15_000 });
      windows.push([from, performance.now()]);

      expect(pending).not.toBe(heldVersion);
      // The checked-out connection of the old generation still works (MySQL keeps its session), then goes back as usual.
      expect(await currentUser(held.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u'))).toBe(user.user);
      held.release();
      expect((await slow)[0][0]?.done).toBe('done');

      await load.more(100); // new logins, all with the new password
      perRotation.push({ failedLogins: pool.rotation.stats.authFailures - before.failed, reads: app.counting.reads.length - before.reads, mode: modeInWindow });
    }
    await load.stop();

    // The old password is really dead: a plain connection with it is rejected with 1045.
    await expect(createConnection({ host: server.host, port: server.port, user: user.user, password: user.password })).rejects.toMatchObject({ errno: 1045, code: 'ER_ACCESS_DENIED_ERROR' });

    report.a = {
      rotations: ROTATIONS,
      queries: load.count,
      failed: load.failures.length,
      failedLogins: pool.rotation.stats.authFailures,
      perRotation,
      latencyMs: latencyReport(load.samples, windows),
      generations: pool.rotation.stats.switches + 1,
    };
    expect(load.failures).toEqual([]);
    expect(pool.rotation.stats.unrecovered).toBe(0);
    // Every rotation was really felt: its window had rejected logins, recovered through the policy.
    for (const r of perRotation) expect(r.failedLogins).toBeGreaterThanOrEqual(1);
    expect(app.cache.status().counts.missedByEvents).toBe(0);
  }, 60_000);

  it('(b) the single-user window held open: AWSPENDING carries new logins until AWSCURRENT catches up', async () => {
    const user = await createUser();
    const { secret, app } = await appFor(user.user, user.password);
    const pool = makePool(app);
    const load = startLoad(pool);
    await load.more(100);

    const perRotation: Array<{ failedLogins: number; reads: number; queriesInWindow: number }> = [];
    for (let i = 0; i < 3; i += 1) {
      const before = { failed: pool.rotation.stats.authFailures, reads: app.counting.reads.length, recoveries: app.cache.status().counts.authRecoveries, queries: load.count };
      const password = newPassword();
      const oldVersion = secret.versionId;
      const pending = await relay.secrets.putPending(secret, value(user.user, password));
      await alterPassword(user.user, password); // AWSCURRENT still holds the old, now dead, password

      await load.more(300); // ~300 queries, most of them new logins, inside the window
      expect(pool.rotation).toMatchObject({ mode: 'pending', versionId: pending });
      const inWindow = load.count - before.queries;
      const readsInWindow = app.counting.reads.slice(before.reads);

      await relay.secrets.moveCurrent(secret, pending);
      await deliverEvents(secret, pending, oldVersion);
      await waitUntil(() => pool.rotation.mode === 'current', { message: 'AWSCURRENT to catch up', timeoutMs: 15_000 });
      expect(pool.rotation.versionId).toBe(pending);
      await load.more(50);

      perRotation.push({ failedLogins: pool.rotation.stats.authFailures - before.failed, reads: readsInWindow.length, queriesInWindow: inWindow });
      // The window's reads, shared by every login: one AWSPENDING, and one refresh of AWSCURRENT
      // (unchanged) unless the previous rotation's refresh is less than authFailureMinIntervalMs old.
      expect(readsInWindow.filter((read) => read.VersionStage === 'AWSPENDING')).toHaveLength(1);
      expect(readsInWindow.filter((read) => read.VersionStage !== 'AWSPENDING')).toEqual(readsInWindow.length === 2 ? [{ SecretId: secret.arn, VersionStage: 'AWSCURRENT' }] : []);
      expect(app.cache.status().counts.authRecoveries - before.recoveries).toBe(1);
    }
    await load.stop();

    report.b = { rotations: 3, queries: load.count, failed: load.failures.length, perRotation };
    expect(load.failures).toEqual([]);
    for (const r of perRotation) {
      expect(r.failedLogins).toBeGreaterThanOrEqual(1);
      // At most the logins already under way when the password changed (one per new-login loop):
      // the ones that start during the recovery wait for it and use AWSPENDING.
      expect(r.failedLogins).toBeLessThanOrEqual(CHURN);
    }
  }, 60_000);

  it('(c) the 1045 path: the password changed before the event arrived; the rejected login refreshes AWSCURRENT and the query succeeds', async () => {
    const user = await createUser();
    const { secret, app } = await appFor(user.user, user.password, REFRESH_AT_ONCE);
    const pool = makePool(app); // mysql2 connects lazily: the first query is the first login

    const password = newPassword();
    const oldVersion = secret.versionId;
    const next = await relay.secrets.putPending(secret, value(user.user, password));
    await alterPassword(user.user, password);
    await relay.secrets.moveCurrent(secret, next); // the rotation finished; its events are still on their way
    const readsBefore = app.counting.reads.length;

    expect(await currentUser(pool.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u'))).toBe(user.user);
    expect(pool.rotation).toMatchObject({ versionId: next, mode: 'current' });
    expect(pool.rotation.stats).toMatchObject({ authFailures: 1, recoveries: 1, reportAuthFailureCalls: 1, pendingReads: 0, unrecovered: 0 });
    expect(app.counting.reads.slice(readsBefore)).toEqual([{ SecretId: secret.arn, VersionStage: 'AWSCURRENT' }]); // one refresh, no AWSPENDING
    expect(app.cache.status().counts.authRecoveries).toBe(1);

    // The events arrive late: the cache already holds the version, so nothing is read or rebuilt.
    const received = app.cache.status().counts.invalidationsReceived;
    const switches = pool.rotation.stats.switches;
    await deliverEvents(secret, next, oldVersion);
    await waitUntil(() => app.cache.status().counts.invalidationsReceived > received, { message: 'the late invalidation', timeoutMs: 15_000 });
    expect(app.counting.reads.length - readsBefore).toBe(1);
    expect(pool.rotation.stats.switches).toBe(switches);

    // getConnection() takes the same path, on a second app whose pool has never logged in.
    const other = await createUser();
    const second = await appFor(other.user, other.password, REFRESH_AT_ONCE);
    const secondPool = makePool(second.app);
    const changed = newPassword();
    await alterPassword(other.user, changed);
    await relay.secrets.moveCurrent(second.secret, await relay.secrets.putPending(second.secret, value(other.user, changed)));
    const connection = await secondPool.getConnection();
    expect(await currentUser(connection.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u'))).toBe(other.user);
    connection.release();
    expect(secondPool.rotation.stats).toMatchObject({ authFailures: 1, recoveries: 1, unrecovered: 0 });
    expect(secondPool.rotation.mode).toBe('current');
  });

  it('(d) AWSPENDING fallback: setSecret done, finishSecret not yet; the login falls back to AWSPENDING, and AWSCURRENT catching up rebuilds nothing', async () => {
    const user = await createUser();
    const { secret, app } = await appFor(user.user, user.password, REFRESH_AT_ONCE);
    const pool = makePool(app);

    const password = newPassword();
    const oldVersion = secret.versionId;
    const pending = await relay.secrets.putPending(secret, value(user.user, password));
    await alterPassword(user.user, password);
    const readsBefore = app.counting.reads.length;

    const [rows] = await pool.execute<Array<RowDataPacket & { one: number }>>('SELECT ? AS one', [1]);
    expect(rows).toEqual([{ one: 1 }]);
    expect(pool.rotation).toMatchObject({ versionId: pending, mode: 'pending' });
    expect(app.counting.reads.slice(readsBefore)).toEqual([{ SecretId: secret.arn, VersionStage: 'AWSCURRENT' }, { SecretId: secret.arn, VersionStage: 'AWSPENDING' }]);
    expect(pool.rotation.stats).toMatchObject({ authFailures: 1, recoveries: 1, pendingReads: 1 });

    const switches = pool.rotation.stats.switches;
    await relay.secrets.moveCurrent(secret, pending);
    await deliverEvents(secret, pending, oldVersion);
    await waitUntil(() => pool.rotation.mode === 'current', { message: 'AWSCURRENT to catch up', timeoutMs: 15_000 });
    expect(pool.rotation.versionId).toBe(pending);
    expect(pool.rotation.stats.switches).toBe(switches); // same credentials: the pending generation stays
    expect((await pool.query<Array<RowDataPacket & { two: number }>>('SELECT 2 AS two'))[0]).toEqual([{ two: 2 }]);
  });

  it('(e) a password that is wrong everywhere reaches the caller once per call, 1045 kept as the cause, no retry loop, no leaked pool slot', async () => {
    const user = await createUser();
    const { app } = await appFor(user.user, user.password);
    const pool = makePool(app, { connectionLimit: 2 });
    await alterPassword(user.user, newPassword()); // nobody will ever hold this one

    const error = await pool.query('SELECT 1').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(CredentialsRejectedError);
    const rejected = error as CredentialsRejectedError;
    expect(rejected.authCode).toBe('ER_ACCESS_DENIED_ERROR');
    expect(rejected.cause).toMatchObject({ errno: 1045, code: 'ER_ACCESS_DENIED_ERROR', sqlState: '28000' });
    for (const secretValue of relay.created.flatMap((secret) => secret.values)) expect(rejected.message).not.toContain(JSON.parse(secretValue).password);
    expect(pool.rotation.stats).toMatchObject({ authFailures: 1, reportAuthFailureCalls: 1, pendingReads: 1, unrecovered: 1 });

    // More calls than connectionLimit: each fails the same way, none hangs on a slot a failed login kept.
    for (let i = 0; i < 4; i += 1) {
      await expect(i % 2 === 0 ? pool.getConnection() : pool.execute('SELECT 1')).rejects.toBeInstanceOf(CredentialsRejectedError);
    }
    expect(app.cache.status().counts.authRecoveries).toBe(0);
  });

  it('(f) alternating users: a new username gets a new generation; the old user finishes its work and its sessions close', async () => {
    const a = await createUser();
    const b = await createUser();
    const { secret, app } = await appFor(a.user, a.password);
    const pool = makePool(app);
    const load = startLoad(pool, 1, 2);
    await load.more(50);
    const held = await pool.getConnection();

    const oldVersion = secret.versionId;
    const next = await relay.secrets.putPending(secret, value(b.user, b.password));
    await relay.secrets.moveCurrent(secret, next);
    await deliverEvents(secret, next, oldVersion);
    await waitUntil(() => pool.rotation.user === b.user, { message: `the pool on ${b.user}`, timeoutMs: 15_000 });

    expect(await currentUser(pool.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u'))).toBe(b.user);
    expect(await currentUser(held.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u'))).toBe(a.user);
    held.release();
    await load.more(50);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(pool.rotation.stats.authFailures).toBe(0);
    // The retired generation was ended: no session of user A is left on the server.
    await waitUntil(async () => (await sessionsOf(a.user)) === 0, { message: `the sessions of ${a.user} to close` });
  });

  it('(g) queued checkouts (more callers than connectionLimit): rotations still fail no query; the extra rejected logins are counted', async () => {
    const user = await createUser();
    const { secret, app } = await appFor(user.user, user.password);
    const pool = makePool(app, { connectionLimit: 2 });
    const enqueued: number[] = [];
    const onEnqueue = (): void => void enqueued.push(1);
    pool.on('enqueue', onEnqueue);
    const load = startLoad(pool, 6, 2);
    await load.more(100);

    const perRotation: number[] = [];
    for (let i = 0; i < 2; i += 1) {
      const before = pool.rotation.stats.authFailures;
      const password = newPassword();
      const oldVersion = secret.versionId;
      const pending = await relay.secrets.putPending(secret, value(user.user, password));
      await alterPassword(user.user, password);
      await load.more(100);
      await relay.secrets.moveCurrent(secret, pending);
      await deliverEvents(secret, pending, oldVersion);
      await waitUntil(() => pool.rotation.versionId === pending && pool.rotation.mode === 'current', { message: `the pool on ${pending}`, timeoutMs: 15_000 });
      await load.more(100);
      perRotation.push(pool.rotation.stats.authFailures - before);
    }
    await load.stop();
    pool.off('enqueue', onEnqueue);

    report.g = { callers: 8, connectionLimit: 2, queries: load.count, failed: load.failures.length, enqueued: enqueued.length, failedLoginsPerRotation: perRotation };
    expect(enqueued.length).toBeGreaterThan(0); // the queue was really used
    expect(load.failures).toEqual([]);
    expect(pool.rotation.stats.unrecovered).toBe(0);
  }, 60_000);

  it('forwards the pool events, escapes like mysql2, and refuses work once ended', async () => {
    const user = await createUser();
    const { app } = await appFor(user.user, user.password);
    const pool = makePool(app, { connectionLimit: 2 });
    const seen: string[] = [];
    pool.on('connection', () => seen.push('connection'));
    pool.on('acquire', () => seen.push('acquire'));
    pool.on('release', () => seen.push('release'));

    await pool.query('SELECT 1');
    expect(seen).toEqual(['connection', 'acquire', 'release']);
    expect(pool.escape("it's")).toBe("'it\\'s'");
    expect(pool.escapeId('order')).toBe('`order`');
    expect(pool.format('SELECT ? AS v', [5])).toBe('SELECT 5 AS v');
    expect(pool.rotation).toMatchObject({ mode: 'current', user: user.user });

    expect(pool.ended).toBe(false);
    await pool.end();
    expect(pool.ended).toBe(true);
    await expect(pool.query('SELECT 1')).rejects.toBeInstanceOf(ResourceClosedError);
    await waitUntil(async () => (await sessionsOf(user.user)) === 0, { message: `the sessions of ${user.user} to close` });
  });
});
