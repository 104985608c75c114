import { performance } from 'node:perf_hooks';
import knex from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotatingPgPool } from '../../../src/sdk/pg/pg-pool.js';
import { CHURN, ORM_ROLE, ORM_ROTATIONS, ORM_SECRET, OrmRotationHarness } from '../../support/orm-rotation.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * Knex on the rotating pool itself, through its `connectionPool` option (a native pg pool: knex
 * takes `connect()` and the client's `release()`), so knex's own tarn pool is not used and every
 * query and transaction gets the rotating pool's guarantees. Real single-user rotations
 * (test/support/orm-rotation.ts).
 */
let h: OrmRotationHarness;

beforeAll(async () => {
  h = await OrmRotationHarness.start();
});

afterAll(async () => {
  await h?.stop();
});

interface Order {
  id: number;
  note: string;
  loop: number;
}

describe('Knex on the rotating pool (connectionPool)', () => {
  it(`${ORM_ROTATIONS} single-user rotations under load: 0 failed queries, transactions on one connection`, async () => {
    const started = performance.now();
    const pool = createRotatingPgPool(h.cache, ORM_SECRET, { ...CHURN, logger: h.logger('knex') });
    const db = knex({ client: 'pg', connectionPool: pool });
    await db.schema.createTable('orders', (t) => {
      t.increments('id');
      t.text('note').notNullable();
      t.integer('loop').notNullable();
    });

    const load = await h.startOrmLoad({
      transaction: (loop, i) =>
        db.transaction(async (trx) => {
          const [created] = await trx<Order>('orders').insert({ note: `tx ${i}`, loop }).returning('id');
          const first = await trx.raw<{ rows: Array<{ pid: number }> }>('SELECT pg_backend_pid() AS pid');
          const row = await trx<Order>('orders').where('id', created?.id).select(trx.raw('pg_backend_pid() AS pid')).first();
          return [first.rows[0]?.pid, (row as unknown as { pid: number } | undefined)?.pid];
        }),
      operation: async (loop, i) => {
        const [created] = await db<Order>('orders').insert({ note: `op ${i}`, loop }).returning('id');
        const row = await db<Order>('orders').where('id', created?.id).first();
        if (row?.note !== `op ${i}`) throw new Error(`read back ${JSON.stringify(row)} for order ${created?.id}`);
      },
    });
    const result = await h.rotateUnderLoad(load, pool);

    const { authFailures, recoveries, unrecovered } = pool.rotation.stats;
    await h.expectRotationsSurvived('knex', result, { rejectedLogins: authFailures, recoveries, unrecovered }, performance.now() - started);
    const me = await db.raw<{ rows: Array<{ u: string }> }>('SELECT current_user AS u');
    expect(me.rows[0]?.u).toBe(ORM_ROLE);

    // knex.destroy() leaves a pool it was given alone: the app ends it.
    await db.destroy();
    expect(pool.ended).toBe(false);
    await pool.end();
    await waitUntil(async () => (await h.sessions()) === 0, { message: 'every connection of the role closed' });
  });
});
