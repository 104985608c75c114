import { performance } from 'node:perf_hooks';
import { Kysely, PostgresDialect, sql, type Generated } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotatingPgPool } from '../../../src/sdk/pg/pg-pool.js';
import { CHURN, ORM_ROLE, ORM_ROTATIONS, ORM_SECRET, OrmRotationHarness } from '../../support/orm-rotation.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * Kysely's PostgresDialect on the rotating pool itself: the dialect needs only `connect()` (a
 * client with `query` and `release`) and `end()`, which the rotating pool has, so every query
 * and transaction gets the pool's guarantees. Real single-user rotations (test/support/orm-rotation.ts).
 */
interface Database {
  orders: { id: Generated<number>; note: string; loop: number };
}

let h: OrmRotationHarness;

beforeAll(async () => {
  h = await OrmRotationHarness.start();
});

afterAll(async () => {
  await h?.stop();
});

describe('Kysely (PostgresDialect) on the rotating pool', () => {
  it(`${ORM_ROTATIONS} single-user rotations under load: 0 failed queries, transactions on one connection`, async () => {
    const started = performance.now();
    const pool = createRotatingPgPool(h.cache, ORM_SECRET, { ...CHURN, logger: h.logger('kysely') });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await db.schema.createTable('orders').addColumn('id', 'serial', (c) => c.primaryKey()).addColumn('note', 'text', (c) => c.notNull()).addColumn('loop', 'integer', (c) => c.notNull()).execute();

    const load = await h.startOrmLoad({
      transaction: (loop, i) =>
        db.transaction().execute(async (trx) => {
          const { id } = await trx.insertInto('orders').values({ note: `tx ${i}`, loop }).returning('id').executeTakeFirstOrThrow();
          const first = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
          const row = await trx.selectFrom('orders').select(['id', sql<number>`pg_backend_pid()`.as('pid')]).where('id', '=', id).executeTakeFirstOrThrow();
          return [first.rows[0]?.pid, row.pid];
        }),
      operation: async (loop, i) => {
        const { id } = await db.insertInto('orders').values({ note: `op ${i}`, loop }).returning('id').executeTakeFirstOrThrow();
        const row = await db.selectFrom('orders').select(['id', 'note']).where('id', '=', id).executeTakeFirst();
        if (row?.note !== `op ${i}`) throw new Error(`read back ${JSON.stringify(row)} for order ${id}`);
      },
    });
    const result = await h.rotateUnderLoad(load, pool);

    const { authFailures, recoveries, unrecovered } = pool.rotation.stats;
    await h.expectRotationsSurvived('kysely', result, { rejectedLogins: authFailures, recoveries, unrecovered }, performance.now() - started);
    const { rows } = await sql<{ u: string; n: number }>`SELECT current_user AS u, (SELECT count(*)::int FROM orders) AS n`.execute(db);
    expect(rows[0]).toEqual({ u: ORM_ROLE, n: expect.any(Number) });

    await db.destroy(); // ends the rotating pool
    expect(pool.ended).toBe(true);
    await waitUntil(async () => (await h.sessions()) === 0, { message: 'every connection of the role closed' });
  });
});
