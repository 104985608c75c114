import { performance } from 'node:perf_hooks';
import { Kysely, PostgresDialect, sql, type Generated } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotatingPgPool } from '../../../src/sdk/pg/pg-pool.js';
import { startLoadLoop } from '../../support/load-loop.js';
import { CHURN, ORM_ROLE, ORM_SECRET, OrmRotationHarness } from '../../support/orm-rotation.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * Kysely's PostgresDialect on the rotating pool itself: the dialect needs only `connect()` (a
 * client with `query` and `release`) and `end()`, which the rotating pool has, so every query
 * and transaction gets the pool's guarantees. Real single-user rotations (test/support/orm-rotation.ts).
 */
interface Database {
  orders: { id: Generated<number>; note: string; loop: number };
}

const ROTATIONS = 4;
let h: OrmRotationHarness;

beforeAll(async () => {
  h = await OrmRotationHarness.start();
});

afterAll(async () => {
  await h?.stop();
});

describe('Kysely (PostgresDialect) on the rotating pool', () => {
  it(`${ROTATIONS} single-user rotations under load: 0 failed queries, transactions on one connection`, async () => {
    const started = performance.now();
    const pool = createRotatingPgPool(h.cache, ORM_SECRET, { ...CHURN, logger: h.logger('kysely') });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await db.schema.createTable('orders').addColumn('id', 'serial', (c) => c.primaryKey()).addColumn('note', 'text', (c) => c.notNull()).addColumn('loop', 'integer', (c) => c.notNull()).execute();

    // Each operation is real ORM work on a new login: an insert, a read back, and every 5th one a
    // transaction whose two statements must see one backend.
    let transactions = 0;
    const load = startLoadLoop(async (loop, i) => {
      if (i % 5 === 4) {
        const pids = await db.transaction().execute(async (trx) => {
          const { id } = await trx.insertInto('orders').values({ note: `tx ${i}`, loop }).returning('id').executeTakeFirstOrThrow();
          const first = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
          const row = await trx.selectFrom('orders').select(['id', sql<number>`pg_backend_pid()`.as('pid')]).where('id', '=', id).executeTakeFirstOrThrow();
          return [first.rows[0]?.pid, row.pid];
        });
        if (pids[0] !== pids[1]) throw new Error(`a transaction ran on two backends: ${pids.join(' and ')}`);
        transactions += 1;
        return;
      }
      const { id } = await db.insertInto('orders').values({ note: `op ${i}`, loop }).returning('id').executeTakeFirstOrThrow();
      const row = await db.selectFrom('orders').select(['id', 'note']).where('id', '=', id).executeTakeFirst();
      if (row?.note !== `op ${i}`) throw new Error(`read back ${JSON.stringify(row)} for order ${id}`);
    }, 3);
    await waitUntil(() => load.completed() >= 50, { message: '50 operations before the first rotation' });

    for (let i = 0; i < ROTATIONS; i += 1) {
      const rotation = await h.rotate(load, { settled: () => pool.rotation.versionId === h.secret.versionId && pool.rotation.mode === 'current' });
      expect(rotation.queriesInWindow).toBeGreaterThanOrEqual(30);
      const after = load.completed();
      await waitUntil(() => load.completed() >= after + 20, { message: '20 operations on the new password' });
    }
    const result = await load.stop();

    const { authFailures, recoveries, unrecovered } = pool.rotation.stats;
    h.report('kysely', result, { rejectedLogins: authFailures, recoveries }, performance.now() - started);
    expect(result.failures).toEqual([]);
    expect(transactions).toBeGreaterThan(ROTATIONS);
    // The windows really rejected logins (the test would prove nothing otherwise), and every one was recovered.
    expect(authFailures).toBeGreaterThanOrEqual(ROTATIONS);
    expect(recoveries).toBeGreaterThanOrEqual(ROTATIONS);
    expect(unrecovered).toBe(0);
    expect(await h.oldPasswordCodes()).toEqual(Array(ROTATIONS).fill('28P01'));
    const { rows } = await sql<{ u: string; n: number }>`SELECT current_user AS u, (SELECT count(*)::int FROM orders) AS n`.execute(db);
    expect(rows[0]).toEqual({ u: ORM_ROLE, n: expect.any(Number) });

    await db.destroy(); // ends the rotating pool
    expect(pool.ended).toBe(true);
    await waitUntil(async () => (await h.sessions()) === 0, { message: 'every connection of the role closed' });
  });
});
