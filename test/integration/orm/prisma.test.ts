import { performance } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asPgPool } from '../../../src/sdk/pg/orm-pg-pool.js';
import { createRotatingPgPool } from '../../../src/sdk/pg/pg-pool.js';
import { generatePrismaClient, importGenerated, type GeneratedPrismaClient } from '../../support/orm-prisma.js';
import { CHURN, ORM_ROLE, ORM_ROTATIONS, ORM_SECRET, OrmRotationHarness } from '../../support/orm-rotation.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * Prisma 7 (the `prisma-client` generator, no query engine binary) on the rotating pool, through
 * `@prisma/adapter-pg`: the adapter uses a pool it is given only when it is `instanceof pg.Pool`,
 * which `asPgPool` makes the rotating pool. The client is generated here, offline, into a
 * git-ignored folder (test/support/orm-prisma.ts). Real single-user rotations
 * (test/support/orm-rotation.ts).
 */
interface Order {
  id: number;
  note: string;
  loop: number;
}

/** The part of the generated client this test uses (its types exist only once generated). */
interface PrismaOrders {
  order: {
    create(args: { data: Omit<Order, 'id'> }): Promise<Order>;
    findUnique(args: { where: { id: number } }): Promise<Order | null>;
  };
  $transaction<T>(fn: (tx: PrismaOrders) => Promise<T>): Promise<T>;
  $queryRawUnsafe<T>(sql: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(sql: string): Promise<number>;
  $disconnect(): Promise<void>;
}

const SCHEMA = join(dirname(fileURLToPath(import.meta.url)), 'prisma', 'schema.prisma');
let h: OrmRotationHarness;
let generated: GeneratedPrismaClient;

beforeAll(async () => {
  const started = await Promise.allSettled([OrmRotationHarness.start(), generatePrismaClient(SCHEMA)] as const);
  const [harness, client] = started;
  if (harness.status === 'rejected' || client.status === 'rejected') {
    await Promise.allSettled([harness.status === 'fulfilled' ? harness.value.stop() : undefined, client.status === 'fulfilled' ? client.value.remove() : undefined]);
    throw started.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason;
  }
  h = harness.value;
  generated = client.value;
});

afterAll(async () => {
  await Promise.allSettled([h?.stop(), generated?.remove()]);
});

describe('Prisma (@prisma/adapter-pg) on the rotating pool', () => {
  it(`the client generates offline, then ${ORM_ROTATIONS} single-user rotations under load: 0 failed queries, transactions on one connection`, async () => {
    expect(generated.output).toMatch(/Generated Prisma Client/);
    const { PrismaClient } = await importGenerated<{ PrismaClient: new (options: { adapter: PrismaPg }) => PrismaOrders }>(generated.entry);

    const started = performance.now();
    const pool = createRotatingPgPool(h.cache, ORM_SECRET, { ...CHURN, logger: h.logger('prisma') });
    const prisma = new PrismaClient({ adapter: new PrismaPg(asPgPool(pool)) });
    await prisma.$executeRawUnsafe('CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL, loop integer NOT NULL)');

    const load = await h.startOrmLoad({
      transaction: (loop, i) =>
        prisma.$transaction(async (tx) => {
          const order = await tx.order.create({ data: { note: `tx ${i}`, loop } });
          const [first] = await tx.$queryRawUnsafe<Array<{ pid: number }>>('SELECT pg_backend_pid() AS pid');
          const [second] = await tx.$queryRawUnsafe<Array<{ pid: number }>>('SELECT pg_backend_pid() AS pid FROM orders WHERE id = $1', order.id);
          return [first?.pid, second?.pid];
        }),
      operation: async (loop, i) => {
        const order = await prisma.order.create({ data: { note: `op ${i}`, loop } });
        const row = await prisma.order.findUnique({ where: { id: order.id } });
        if (row?.note !== `op ${i}`) throw new Error(`read back ${JSON.stringify(row)} for order ${order.id}`);
      },
    });
    const result = await h.rotateUnderLoad(load, pool);

    const { authFailures, recoveries, unrecovered } = pool.rotation.stats;
    await h.expectRotationsSurvived('prisma', result, { rejectedLogins: authFailures, recoveries, unrecovered }, performance.now() - started);
    const [me] = await prisma.$queryRawUnsafe<Array<{ u: string }>>('SELECT current_user AS u');
    expect(me?.u).toBe(ORM_ROLE);

    await prisma.$disconnect(); // leaves a pool it was given open (disposeExternalPool is off)
    expect(pool.ended).toBe(false);
    await pool.end();
    await waitUntil(async () => (await h.sessions()) === 0, { message: 'every connection of the role closed' });
  });
});
