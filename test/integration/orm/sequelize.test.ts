import { performance } from 'node:perf_hooks';
import { DataTypes, Sequelize, type ModelStatic, type Model } from 'sequelize';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sequelizeCredentials, type SequelizeCredentials } from '../../../src/sdk/pg/orm-sequelize.js';
import { ORM_ROLE, ORM_ROTATIONS, ORM_SECRET, OrmRotationHarness } from '../../support/orm-rotation.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * Sequelize (dialect postgres) through its own hooks: it builds its pg connections itself, so
 * `sequelizeCredentials` gives every new login the current credentials (`beforeConnect`), and a
 * rejected login (28P01) is recovered between two attempts of Sequelize's own query retry (the
 * `retry.match` matcher starts the cache's recovery, the retried login waits for it). Real
 * single-user rotations (test/support/orm-rotation.ts).
 */
interface OrderAttributes {
  id: number;
  note: string;
  loop: number;
}
type OrderModel = Model<OrderAttributes, Omit<OrderAttributes, 'id'>> & OrderAttributes;

let h: OrmRotationHarness;
const open: Array<{ sequelize: Sequelize; creds: SequelizeCredentials }> = [];

beforeAll(async () => {
  h = await OrmRotationHarness.start();
});

afterEach(async () => {
  for (const { sequelize, creds } of open.splice(0)) {
    await sequelize.close();
    creds.close();
  }
});

afterAll(async () => {
  await h?.stop();
});

/**
 * maxUses 1: every query is a new login, so a dead password is met at once; idle 1 ms and evict
 * 5 ms close the connections Sequelize's pool opens ahead of demand, so none is reused later.
 */
async function connect(label: string): Promise<{ sequelize: Sequelize; creds: SequelizeCredentials; Order: ModelStatic<OrderModel> }> {
  const creds = sequelizeCredentials(h.cache, ORM_SECRET, { logger: h.logger(label) });
  const sequelize = new Sequelize({
    dialect: 'postgres',
    hooks: creds.hooks,
    retry: creds.retry,
    pool: { max: 8, min: 0, idle: 1, evict: 5, maxUses: 1 },
    logging: false,
  });
  open.push({ sequelize, creds });
  const Order = sequelize.define<OrderModel>('Order', { id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true }, note: { type: DataTypes.TEXT, allowNull: false }, loop: { type: DataTypes.INTEGER, allowNull: false } }, { tableName: 'orders', timestamps: false });
  await Order.sync();
  return { sequelize, creds, Order };
}

/**
 * Connections opened earlier keep their login, and Sequelize's pool opens some ahead of demand: the
 * steps below need new logins, so they wait until the pool holds and creates nothing
 * (sequelize-pool's `size` counts logins under way too) and the server has no session of the role.
 */
async function noSessionLeft(sequelize: Sequelize): Promise<void> {
  const pool = (sequelize.connectionManager as unknown as { pool: { size: number } }).pool;
  await waitUntil(async () => pool.size === 0 && (await h.sessions()) === 0, { message: 'no connection of the role left to reuse' });
}

describe('Sequelize through beforeConnect and its own retry', () => {
  it(`${ORM_ROTATIONS} single-user rotations under load: 0 failed queries (transactions through retryRejectedLogin)`, async () => {
    const started = performance.now();
    const { sequelize, creds, Order } = await connect('sequelize');

    const load = await h.startOrmLoad({
      // sequelize.transaction() takes its connection outside Sequelize's retry: the helper retries it.
      transaction: (loop, i) =>
        creds.retryRejectedLogin(() =>
          sequelize.transaction(async (transaction) => {
            const order = await Order.create({ note: `tx ${i}`, loop }, { transaction });
            const [first] = (await sequelize.query('SELECT pg_backend_pid() AS pid', { transaction, plain: false, raw: true }))[0] as Array<{ pid: number }>;
            const [second] = (await sequelize.query('SELECT pg_backend_pid() AS pid FROM orders WHERE id = $1', { transaction, bind: [order.id], raw: true }))[0] as Array<{ pid: number }>;
            return [first?.pid, second?.pid];
          }),
        ),
      operation: async (loop, i) => {
        const order = await Order.create({ note: `op ${i}`, loop });
        const row = await Order.findByPk(order.id);
        if (row?.note !== `op ${i}`) throw new Error(`read back ${JSON.stringify(row)} for order ${order.id}`);
      },
    });
    const result = await h.rotateUnderLoad(load, creds);

    // Sequelize's credentials keep no `unrecovered` counter (PgLoginStats): the pools' check does not apply.
    const { rejectedLogins, recoveries } = creds.rotation.stats;
    await h.expectRotationsSurvived('sequelize', result, { rejectedLogins, recoveries }, performance.now() - started);
    const [rows] = await sequelize.query('SELECT current_user AS u');
    expect(rows).toEqual([{ u: ORM_ROLE }]);
  });

  it('a rejected login in the window: Sequelize retries a query after the recovery; a transaction needs retryRejectedLogin', async () => {
    const { sequelize, creds, Order } = await connect('sequelize-window');
    const counts = () => ({ ...h.cache.status().counts });
    await Order.count();
    const before = { stats: { ...creds.rotation.stats }, cache: counts() };
    const rotation = await h.startRotation(); // the server has the new password; AWSCURRENT still the old one
    await noSessionLeft(sequelize);

    // 1. sequelize.transaction() is not retried by Sequelize: its login fails, and nothing reports it.
    const error = await sequelize.transaction(async () => 'never').catch((err: unknown) => err);
    expect(error).toMatchObject({ name: 'SequelizeConnectionError', parent: { code: '28P01' } });
    expect(creds.isRejectedLogin(new Error('not a login failure'))).toBe(false);
    expect(creds.rotation.stats.rejectedLogins).toBe(before.stats.rejectedLogins);
    expect(creds.rotation.mode).toBe('current');

    // 2. A query: Sequelize's retry calls the matcher, which starts the recovery (reportAuthFailure,
    // then AWSPENDING); the retried login waits for it and succeeds. The caller sees a result.
    expect(await Order.count()).toBeGreaterThanOrEqual(0);
    expect(creds.rotation).toMatchObject({ versionId: rotation.pending, mode: 'pending' });
    expect(creds.rotation.stats.rejectedLogins - before.stats.rejectedLogins).toBe(1);
    expect(creds.rotation.stats.reportAuthFailureCalls - before.stats.reportAuthFailureCalls).toBe(1);
    expect(creds.rotation.stats.pendingReads - before.stats.pendingReads).toBe(1);
    expect(counts().authRecoveries - before.cache.authRecoveries).toBe(1); // confirmed by afterConnect

    // 3. New logins, transactions included, now use AWSPENDING until AWSCURRENT catches up.
    await expect(sequelize.transaction(async () => 'ok')).resolves.toBe('ok');
    await rotation.finish(() => creds.rotation.mode === 'current');
    expect(creds.rotation.versionId).toBe(rotation.pending);

    // 4. retryRejectedLogin carries a transaction over the window by itself.
    const next = await h.startRotation();
    await noSessionLeft(sequelize);
    await expect(creds.retryRejectedLogin(() => sequelize.transaction(async () => 'carried'))).resolves.toBe('carried');
    expect(creds.rotation).toMatchObject({ versionId: next.pending, mode: 'pending' });
    await next.finish(() => creds.rotation.mode === 'current');
  });

  it('a password no version holds: the query fails after maxAttempts logins with 28P01 kept, no retry loop', async () => {
    const { sequelize, creds, Order } = await connect('sequelize-wrong');
    await Order.count();
    const before = { rejected: creds.rotation.stats.rejectedLogins, versionId: creds.rotation.versionId };
    await h.breakPassword();
    await noSessionLeft(sequelize);

    const error = await Order.count().catch((err: unknown) => err);
    expect(error).toMatchObject({ name: 'SequelizeConnectionError', parent: { code: '28P01' } });
    // retry-as-promised asks the matcher after every attempt but the last: 3 attempts, 2 reports.
    expect(creds.rotation.stats.rejectedLogins - before.rejected).toBe(2);
    expect(creds.rotation.versionId).toBe(before.versionId); // nothing else to switch to
    await expect(creds.retryRejectedLogin(() => Order.count())).rejects.toMatchObject({ parent: { code: '28P01' } });
  });
});
