import { performance } from 'node:perf_hooks';
import { DataSource, EntitySchema } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typeormPgDriver } from '../../../src/sdk/pg/orm-typeorm.js';
import { captureLogger } from '../../support/log-capture.js';
import { CHURN, ORM_ROLE, ORM_ROTATIONS, ORM_SECRET, OrmRotationHarness } from '../../support/orm-rotation.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * TypeORM (type `postgres`) on the rotating pool: TypeORM builds its pool itself with
 * `new driver.Pool(options)`, and `typeormPgDriver` is a `driver` whose Pool is the rotating pool,
 * so every repository call, QueryRunner and transaction gets the pool's guarantees. Real
 * single-user rotations (test/support/orm-rotation.ts).
 */
interface Order {
  id: number;
  note: string;
  loop: number;
}

const OrderEntity = new EntitySchema<Order>({
  name: 'Order',
  tableName: 'orders',
  columns: {
    id: { type: Number, primary: true, generated: 'increment' },
    note: { type: 'text' },
    loop: { type: 'integer' },
  },
});

let h: OrmRotationHarness;

beforeAll(async () => {
  h = await OrmRotationHarness.start();
});

afterAll(async () => {
  await h?.stop();
});

describe('TypeORM on the rotating pool (typeormPgDriver)', () => {
  it(`${ORM_ROTATIONS} single-user rotations under load: 0 failed queries, transactions on one connection`, async () => {
    const started = performance.now();
    const log = captureLogger({ test: 'typeorm' });
    const driver = typeormPgDriver(h.cache, ORM_SECRET, { logger: log.logger });
    // username and password would be ignored (the secret decides): one warning says so.
    const dataSource = new DataSource({ type: 'postgres', driver, username: 'ignored', entities: [OrderEntity], synchronize: true, extra: CHURN });
    await dataSource.initialize(); // creates the table (synchronize) through the rotating pool
    expect(driver.pools).toHaveLength(1);
    const pool = driver.pools[0]!;
    expect(log.records().filter((r) => String(r.msg).includes('come from the secret'))).toHaveLength(1);
    const orders = dataSource.getRepository(OrderEntity);

    const load = await h.startOrmLoad({
      transaction: (loop, i) =>
        dataSource.transaction(async (manager) => {
          const saved = await manager.getRepository(OrderEntity).save({ note: `tx ${i}`, loop });
          const [first] = (await manager.query('SELECT pg_backend_pid() AS pid')) as Array<{ pid: number }>;
          const [second] = (await manager.query('SELECT pg_backend_pid() AS pid, note FROM orders WHERE id = $1', [saved.id])) as Array<{ pid: number }>;
          return [first?.pid, second?.pid];
        }),
      operation: async (loop, i) => {
        const saved = await orders.save({ note: `op ${i}`, loop });
        const row = await orders.findOneBy({ id: saved.id });
        if (row?.note !== `op ${i}`) throw new Error(`read back ${JSON.stringify(row)} for order ${saved.id}`);
      },
    });
    const result = await h.rotateUnderLoad(load, pool);

    const { authFailures, recoveries, unrecovered } = pool.rotation.stats;
    await h.expectRotationsSurvived('typeorm', result, { rejectedLogins: authFailures, recoveries, unrecovered }, performance.now() - started);
    const [me] = (await dataSource.query('SELECT current_user AS u')) as Array<{ u: string }>;
    expect(me?.u).toBe(ORM_ROLE);

    await dataSource.destroy(); // pool.end(callback) on the adapter: ends the rotating pool
    expect(pool.ended).toBe(true);
    await waitUntil(async () => (await h.sessions()) === 0, { message: 'every connection of the role closed' });
  });
});
