import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CredentialsRejectedError } from '../../../src/sdk/rotating/errors.js';
import { createRotatingPgPool, type RotatingPgPool, type RotatingPgPoolOptions } from '../../../src/sdk/pg/pg-pool.js';
import { CredentialSourceDouble } from '../../support/credential-source-double.js';
import { captureLogger, type CapturedLogger } from '../../support/log-capture.js';
import { startPostgres, type PgHandle } from '../../support/postgres.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * The rotating pg pool against a real PostgreSQL (scram-sha-256): passwords really change with
 * ALTER ROLE, so a stale password really fails with 28P01. The credential cache is a double whose
 * labels the test moves the way a rotation Lambda moves them in Secrets Manager:
 * createSecret → setPending, setSecret → ALTER ROLE, finishSecret → setCurrent, event → publish.
 */

interface RdsSecret {
  engine: 'postgres';
  host: string;
  port: number;
  username: string;
  password: string;
  dbname: string;
}

/**
 * maxUses 1: every query opens a new connection, so a stale password is noticed at once (about
 * 200 logins/s here). max is above the number of load loops on purpose: pg-pool hands a free slot
 * to a new connect() before its queue, and with maxUses 1 a slot frees on every query, so with a
 * full pool the test's own checkout would starve behind the load loops (a pg-pool trait, not ours).
 */
const LOOPS = 4;
const CHURN: RotatingPgPoolOptions = { max: 8, idleTimeoutMillis: 1, maxUses: 1 };
const NAME = 'orders-db';

let server: PgHandle;
let admin: pg.Client;
let roleCounter = 0;
const allPasswords: string[] = [];
const logs: CapturedLogger[] = [];
const open: RotatingPgPool[] = [];
/** Numbers for the closing note, printed once at the end. */
const report: Record<string, unknown> = {};

beforeAll(async () => {
  server = await startPostgres();
  admin = new pg.Client({ host: server.host, port: server.port, user: 'postgres', password: server.superuser.password, database: 'postgres' });
  await admin.connect();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((pool) => pool.end()));
});

afterAll(async () => {
  await admin?.end();
  await server?.stop();
  // Every log line the pools wrote, scanned for every password the test ever used.
  const text = logs.flatMap((l) => l.lines()).join('\n');
  for (const password of allPasswords) expect(text).not.toContain(password);
  console.log(`pg rotation numbers: ${JSON.stringify(report, null, 2)}`);
});

function newPassword(): string {
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  allPasswords.push(password);
  return password;
}

async function createRole(): Promise<{ user: string; password: string }> {
  roleCounter += 1;
  const user = `app_${roleCounter}`;
  const password = newPassword();
  await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
  return { user, password };
}

async function alterPassword(user: string, password: string): Promise<void> {
  await admin.query(`ALTER ROLE ${user} PASSWORD '${password}'`);
}

function secret(user: string, password: string): RdsSecret {
  return { engine: 'postgres', host: server.host, port: server.port, username: user, password, dbname: 'postgres' };
}

function makePool(source: CredentialSourceDouble<RdsSecret>, options: RotatingPgPoolOptions = CHURN): RotatingPgPool {
  const log = captureLogger({ test: 'pg-rotation' });
  logs.push(log);
  const pool = createRotatingPgPool(source, NAME, { ...options, logger: log.logger });
  open.push(pool);
  return pool;
}

/** Continuous load: `loops` concurrent loops of `SELECT 1`, each query's latency recorded. */
function startLoad(pool: RotatingPgPool, loops = LOOPS) {
  const samples: Array<{ start: number; ms: number }> = [];
  const failures: unknown[] = [];
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      const start = performance.now();
      try {
        await pool.query('SELECT 1 AS one');
        samples.push({ start, ms: performance.now() - start });
      } catch (err) {
        failures.push(err);
        if (failures.length >= 20) running = false; // a broken pool must fail the test, not spin
      }
    }
  };
  const done = Promise.all(Array.from({ length: loops }, loop));
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

/**
 * Worst latency of the queries in flight during a rotation window ([createSecret, invalidation
 * delivered] widened by `marginMs` after it), and elsewhere, for comparison.
 */
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

const round = (n: number): number => Math.round(n * 10) / 10;

describe('rotating pg pool against a real PostgreSQL', () => {
  it('(a) 10 single-user rotations under continuous load: zero failed queries, in-flight work completes', async () => {
    const role = await createRole();
    const source = new CredentialSourceDouble<RdsSecret>(NAME, secret(role.user, role.password));
    const pool = makePool(source);
    const load = startLoad(pool);
    await load.more(100);

    const windows: Array<[number, number]> = [];
    const perRotation: Array<{ failedLogins: number; reads: number }> = [];
    for (let i = 0; i < 10; i += 1) {
      const before = { failed: pool.rotation.stats.authFailures, reads: source.counts.reads + source.counts.pendingReads };
      // Work that belongs to the old generation: a slow query and a checked-out client.
      const slow = pool.query<{ done: string }>("SELECT pg_sleep(0.3), 'done' AS done");
      const held = await pool.connect();
      const heldVersion = pool.rotation.versionId;

      const password = newPassword();
      const from = performance.now();
      source.setPending(secret(role.user, password)); // createSecret
      await alterPassword(role.user, password); // setSecret: the old password is dead from here
      const versionId = source.setCurrent(secret(role.user, password)); // finishSecret
      source.publish(); // the invalidation arrives
      windows.push([from, performance.now()]);
      source.setPending(undefined);

      expect(pool.rotation).toMatchObject({ versionId, mode: 'current' });
      expect(versionId).not.toBe(heldVersion);
      // The checked-out client of the old generation still works, then goes back as usual.
      expect((await held.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u).toBe(role.user);
      held.release();
      expect((await slow).rows[0]?.done).toBe('done');

      await load.more(100); // new connections, all with the new password
      perRotation.push({
        failedLogins: pool.rotation.stats.authFailures - before.failed,
        reads: source.counts.reads + source.counts.pendingReads - before.reads,
      });
    }
    await load.stop();

    // The old password is really dead: a plain client with it is rejected.
    const stale = new pg.Client({ host: server.host, port: server.port, user: role.user, password: role.password, database: 'postgres' });
    await expect(stale.connect()).rejects.toMatchObject({ code: '28P01' });

    report.a = {
      rotations: 10,
      queries: load.count,
      failed: load.failures.length,
      failedLogins: pool.rotation.stats.authFailures,
      reads: source.counts.reads + source.counts.pendingReads,
      perRotation,
      latencyMs: latencyReport(load.samples, windows),
      generations: pool.rotation.stats.switches + 1,
    };
    expect(load.failures).toEqual([]);
    expect(pool.rotation.stats.unrecovered).toBe(0);
  });

  it('(b) the single-user window: AWSPENDING carries new connections until AWSCURRENT catches up', async () => {
    const role = await createRole();
    const source = new CredentialSourceDouble<RdsSecret>(NAME, secret(role.user, role.password));
    const pool = makePool(source);
    const load = startLoad(pool);
    await load.more(100);

    const perRotation: Array<{ failedLogins: number; reportAuthFailure: number; pendingReads: number; queriesInWindow: number }> = [];
    const windows: Array<[number, number]> = [];
    for (let i = 0; i < 5; i += 1) {
      const before = { failed: pool.rotation.stats.authFailures, reports: source.counts.authFailureReports, pending: source.counts.pendingReads, recoveries: source.counts.authRecoveries, queries: load.count };
      const password = newPassword();
      const from = performance.now();
      source.setPending(secret(role.user, password));
      await alterPassword(role.user, password); // AWSCURRENT still holds the old, now dead, password

      await load.more(300); // ~300 queries, each on a new connection, inside the window
      expect(pool.rotation.mode).toBe('pending');
      const inWindow = load.count - before.queries;

      const versionId = source.setCurrent(secret(role.user, password)); // finishSecret, at last
      source.publish();
      windows.push([from, performance.now()]);
      source.setPending(undefined);
      expect(pool.rotation).toMatchObject({ mode: 'current', versionId });
      await load.more(50);

      perRotation.push({
        failedLogins: pool.rotation.stats.authFailures - before.failed,
        reportAuthFailure: source.counts.authFailureReports - before.reports,
        pendingReads: source.counts.pendingReads - before.pending,
        queriesInWindow: inWindow,
      });
      expect(source.counts.authRecoveries - before.recoveries).toBe(1);
    }
    await load.stop();

    report.b = {
      rotations: 5,
      queries: load.count,
      failed: load.failures.length,
      perRotation,
      latencyMs: latencyReport(load.samples, windows),
    };
    expect(load.failures).toEqual([]);
    for (const r of perRotation) {
      // "about one failed login and two Secrets Manager reads — not one per connection"
      expect(r.failedLogins).toBeGreaterThanOrEqual(1);
      // At most the logins already under way when the password changed (one per load loop):
      // the ones that start during the recovery wait for it and use AWSPENDING.
      expect(r.failedLogins).toBeLessThanOrEqual(LOOPS);
      expect(r.reportAuthFailure + r.pendingReads).toBeLessThanOrEqual(2);
    }
  });

  it('(c) a missed invalidation: the first rejected login refreshes AWSCURRENT and the query succeeds', async () => {
    const role = await createRole();
    const source = new CredentialSourceDouble<RdsSecret>(NAME, secret(role.user, role.password));
    const pool = makePool(source);
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

    const password = newPassword();
    await alterPassword(role.user, password);
    const versionId = source.setCurrent(secret(role.user, password)); // no publish()

    const result = await pool.query<{ u: string }>({ text: 'SELECT current_user AS u' });
    expect(result.rows[0]?.u).toBe(role.user);
    expect(pool.rotation).toMatchObject({ versionId, mode: 'current' });
    expect(source.counts).toMatchObject({ authFailureReports: 1, pendingReads: 0, authRecoveries: 1 });
    expect(pool.rotation.stats.authFailures).toBe(1);

    // connect() takes the same path.
    const other = newPassword();
    await alterPassword(role.user, other);
    source.setCurrent(secret(role.user, other));
    const client = await pool.connect();
    expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    client.release();
    expect(source.counts).toMatchObject({ authFailureReports: 2, authRecoveries: 2 });
  });

  it('(d) alternating users: a new username gets a new pool generation; the old user finishes its work', async () => {
    const a = await createRole();
    const b = await createRole();
    const source = new CredentialSourceDouble<RdsSecret>(NAME, secret(a.user, a.password));
    const pool = makePool(source);
    const load = startLoad(pool, 3);
    await load.more(50);
    const held = await pool.connect();

    source.setCurrent(secret(b.user, b.password));
    source.publish();
    expect(pool.rotation.user).toBe(b.user);
    expect((await pool.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u).toBe(b.user);
    expect((await held.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u).toBe(a.user);
    held.release();
    await load.more(50);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(pool.rotation.stats.authFailures).toBe(0);

    // The retired generation was ended: no connection of user A is left.
    await waitUntil(
      async () => (await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [a.user])).rows[0].n === 0,
      { message: `the connections of ${a.user} to be closed` },
    );
  });

  it('(e) a password that is wrong everywhere reaches the caller once, code 28P01 kept, no retry loop', async () => {
    const role = await createRole();
    const source = new CredentialSourceDouble<RdsSecret>(NAME, secret(role.user, role.password));
    const pool = makePool(source);
    await alterPassword(role.user, newPassword()); // nobody will ever hold this one

    const error = await pool.query('SELECT 1').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(CredentialsRejectedError);
    const rejected = error as CredentialsRejectedError;
    expect(rejected.authCode).toBe('28P01');
    expect(rejected.cause).toMatchObject({ code: '28P01' });
    expect(rejected.cause).toBeInstanceOf(pg.DatabaseError);
    for (const password of allPasswords) expect(rejected.message).not.toContain(password);
    expect(source.counts).toMatchObject({ authFailureReports: 1, pendingReads: 1, authRecoveries: 0 });
    expect(pool.rotation.stats.authFailures).toBe(1);

    await expect(pool.connect()).rejects.toBeInstanceOf(CredentialsRejectedError);
    // Callback style, as pg.Pool accepts it.
    const viaCallback = await new Promise<unknown>((resolve) => pool.query('SELECT 1', (err) => resolve(err)));
    expect(viaCallback).toBeInstanceOf(CredentialsRejectedError);
  });

  it('forwards pool events from every generation and reports the current counts', async () => {
    const role = await createRole();
    const source = new CredentialSourceDouble<RdsSecret>(NAME, secret(role.user, role.password));
    const pool = makePool(source, { max: 2, idleTimeoutMillis: 60_000 });
    const seen: string[] = [];
    const errors: Error[] = [];
    pool.on('connect', () => seen.push('connect'));
    pool.on('acquire', () => seen.push('acquire'));
    pool.on('error', (err) => errors.push(err));

    await pool.query('SELECT 1');
    expect(seen).toEqual(['connect', 'acquire']);
    expect(pool.totalCount).toBe(1);
    expect(pool.idleCount).toBe(1);
    expect(pool.waitingCount).toBe(0);

    // An idle client of the current generation is killed by the server: 'error' reaches us.
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role.user]);
    await waitUntil(() => errors.length === 1, { message: "the pool's 'error' event" });
    expect(pool.ended).toBe(false);
    await pool.end();
    expect(pool.ended).toBe(true);
  });
});
