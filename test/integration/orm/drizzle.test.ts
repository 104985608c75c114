import { performance } from 'node:perf_hooks';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable, serial, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asPgPool } from '../../../src/sdk/pg/orm-pg-pool.js';
import { createRotatingPgPool } from '../../../src/sdk/pg/pg-pool.js';
import { CHURN, ORM_ROLE, ORM_ROTATIONS, ORM_SECRET, OrmRotationHarness } from '../../support/orm-rotation.js';

/**
 * Drizzle (node-postgres driver) on the rotating pool, through `asPgPool`: Drizzle runs
 * `db.transaction()` on one checked-out client only for a client it recognises as a pool
 * (`instanceof pg.Pool`). Real single-user rotations (test/support/orm-rotation.ts).
 */
const orders = pgTable('orders', {
  id: serial('id').primaryKey(),
  note: text('note').notNull(),
  loop: integer('loop').notNull(),
});

let h: OrmRotationHarness;

beforeAll(async () => {
  h = await OrmRotationHarness.start();
});

afterAll(async () => {
  await h?.stop();
});

/** The backend of each statement, and what SET LOCAL left: both say whether the statements shared one transaction. */
async function transactionProbe(db: ReturnType<typeof drizzle>): Promise<{ pids: number[]; setting: string }> {
  return db.transaction(async (tx) => {
    const first = await tx.execute<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`);
    await tx.execute(sql`SET LOCAL application_name = 'in-transaction'`);
    const second = await tx.execute<{ pid: number; setting: string }>(sql`SELECT pg_backend_pid() AS pid, current_setting('application_name') AS setting`);
    return { pids: [first.rows[0]?.pid ?? -1, second.rows[0]?.pid ?? -1], setting: second.rows[0]?.setting ?? '' };
  });
}

describe('Drizzle (node-postgres) on the rotating pool', () => {
  it(`${ORM_ROTATIONS} single-user rotations under load: 0 failed queries, transactions on one connection`, async () => {
    const started = performance.now();
    const pool = createRotatingPgPool(h.cache, ORM_SECRET, { ...CHURN, logger: h.logger('drizzle') });
    const db = drizzle({ client: asPgPool(pool) });
    await db.execute(sql`CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL, loop integer NOT NULL)`);

    const load = await h.startOrmLoad({
      transaction: async () => {
        const probe = await transactionProbe(db);
        if (probe.setting !== 'in-transaction') throw new Error(`not one transaction: ${JSON.stringify(probe)}`);
        return probe.pids;
      },
      operation: async (loop, i) => {
        const [created] = await db.insert(orders).values({ note: `op ${i}`, loop }).returning({ id: orders.id });
        if (!created) throw new Error('insert returned no row');
        const [row] = await db.select().from(orders).where(eq(orders.id, created.id));
        if (row?.note !== `op ${i}`) throw new Error(`read back ${JSON.stringify(row)} for order ${created.id}`);
      },
    });
    const result = await h.rotateUnderLoad(load, pool);

    const { authFailures, recoveries, unrecovered } = pool.rotation.stats;
    await h.expectRotationsSurvived('drizzle', result, { rejectedLogins: authFailures, recoveries, unrecovered }, performance.now() - started);
    const [me] = (await db.execute<{ u: string }>(sql`SELECT current_user AS u`)).rows;
    expect(me?.u).toBe(ORM_ROLE);

    await db.$client.end();
    expect(pool.ended).toBe(true);
  });

  it('why asPgPool: given the rotating pool as it is, Drizzle sends a transaction statement by statement to the pool', async () => {
    const pool = createRotatingPgPool(h.cache, ORM_SECRET, { ...CHURN, logger: h.logger('drizzle-raw') });
    const raw = drizzle({ client: pool as unknown as pg.Pool }); // what a cast makes compile, and what breaks
    const adapted = drizzle({ client: asPgPool(pool) });

    const broken = await transactionProbe(raw);
    expect(broken.pids[0]).not.toBe(broken.pids[1]); // maxUses 1: every pool.query is a new backend
    expect(broken.setting).not.toBe('in-transaction');
    const sound = await transactionProbe(adapted);
    expect(sound.pids[0]).toBe(sound.pids[1]);
    expect(sound.setting).toBe('in-transaction');
    await pool.end();
  });

  it("asPgPool is a pg.Pool with the rotating pool's counters, events and callback forms", async () => {
    const pool = createRotatingPgPool(h.cache, ORM_SECRET, { max: 2, idleTimeoutMillis: 60_000, logger: h.logger('adapter') });
    const adapter = asPgPool(pool);
    expect(adapter).toBeInstanceOf(pg.Pool);
    const seen: string[] = [];
    const onConnect = (): void => void seen.push('connect');
    adapter.on('connect', onConnect);
    adapter.on('acquire', () => seen.push('acquire'));

    const viaCallback = await new Promise<{ pid: number }>((resolve, reject) => {
      adapter.connect((err, client, done) => {
        if (err || !client) return reject(err ?? new Error('no client'));
        expect(adapter.totalCount).toBe(1);
        expect(adapter.idleCount).toBe(0);
        client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid').then((r) => {
          done();
          resolve(r.rows[0]!);
        }, reject);
      });
    });
    expect(viaCallback.pid).toBeGreaterThan(0);
    expect(adapter.idleCount).toBe(1);
    expect(seen).toEqual(['connect', 'acquire']);
    adapter.off('connect', onConnect);
    await adapter.query('SELECT 1'); // the idle client again: no new connect, one more acquire
    expect(seen).toEqual(['connect', 'acquire', 'acquire']);
    expect(adapter.rotation.versionId).toBe(pool.rotation.versionId);

    await new Promise<void>((resolve) => adapter.end(() => resolve()));
    expect(pool.ended).toBe(true);
    expect(adapter.ended).toBe(true);
  });
});
