import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotatingPgPool } from '../../../src/sdk/pg/pg-pool.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { startLoadLoop, type LoadResult } from '../../support/load-loop.js';
import type { TestSecret } from '../../support/moto-secrets.js';
import { startPostgres, type PgHandle } from '../../support/postgres.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent, moveCurrentEvent, putPendingEvent, rotationSucceededEvent } from '../../support/rotation-events.js';
import { instance, type Instance } from '../../support/subscribed-cache.js';
import { waitUntil } from '../../support/wait-until.js';

const ROTATIONS = 6;
const USERS = ['app_blue', 'app_green'] as const;

/**
 * Issue 17, item 4, end to end: the alternating-users rotation (AWS's
 * SecretsManagerRDSPostgreSQLRotationMultiUser). Two real roles; each rotation gives the role
 * *not* in use a new password (setSecret), puts a version naming that role as AWSPENDING and then
 * moves AWSCURRENT to it, and its events go through SQS and the real worker to a subscribed cache
 * whose rotating pg pool is under load. The pool builds the next generation with the other user
 * name and drains the old one. Because the role in use keeps its password, no login may fail at
 * all, not even the one a single-user rotation costs.
 */
describe('alternating users: two real roles, the user name changes at every rotation', () => {
  let fixture: RelayFixture;
  let server: PgHandle;
  let admin: pg.Client;
  let app: Instance;
  let secret: TestSecret;
  let pgLog: string;

  const password = (): string => {
    const value = `pw-${randomBytes(12).toString('base64url')}`;
    registerSecretValue(value, 'a role password');
    return value;
  };
  const value = (username: string, pw: string): string =>
    JSON.stringify({ engine: 'postgres', host: server.host, port: server.port, dbname: 'postgres', username, password: pw });
  const failedLogins = (): number => (readFileSync(pgLog, 'utf8').match(/password authentication failed/g) ?? []).length;
  const connectionsOf = async (user: string): Promise<number> =>
    (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [user])).rows[0]?.n ?? -1;

  beforeAll(async () => {
    [fixture, server] = await Promise.all([RelayFixture.start(), startPostgres()]);
    admin = new pg.Client({ host: server.host, port: server.port, user: 'postgres', password: server.superuser.password, database: 'postgres' });
    await admin.connect();
    const dataDir = String((await admin.query<{ data_directory: string }>('SHOW data_directory')).rows[0]?.data_directory);
    pgLog = join(dirname(dataDir), 'postgres.log');
    const first = password();
    for (const user of USERS) await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD '${user === USERS[0] ? first : password()}'`);
    secret = await fixture.secrets.create(`app/db-multi-user-${randomBytes(3).toString('hex')}`, value(USERS[0], first));
    fixture.created.push(secret);
    await fixture.startWorker();
    app = instance(fixture, { secrets: { db: { secretId: secret.arn, json: true } } });
    await app.cache.start();
    await waitUntil(() => app.cache.status().pubsub.connected, { message: 'the cache subscribed' });
  }, 120_000);

  afterAll(async () => {
    await app?.cache.stop();
    await admin?.end();
    await Promise.allSettled([fixture?.stop(), server?.stop()]);
  });

  it(`${ROTATIONS} rotations under load: 0 failed queries, 0 failed logins, new work on the new user, the old user's connections closed`, async () => {
    // A connection serves 3 queries, so every rotation meets new logins.
    const pool = createRotatingPgPool(app.cache, 'db', { max: 4, maxUses: 3, idleTimeoutMillis: 50 });
    const seen = new Set<string>();
    const load = startLoadLoop(async () => {
      const { rows } = await pool.query<{ u: string }>('SELECT current_user AS u');
      seen.add(rows[0]?.u ?? '?');
    }, 3, 2);
    const loginsBefore = failedLogins();
    const readsBefore = app.counting.reads.length;
    let result: LoadResult | undefined;
    try {
      await waitUntil(() => load.completed() >= 30, { message: 'the load to run' });
      for (let r = 1; r <= ROTATIONS; r += 1) {
        const next = USERS[r % 2] ?? USERS[0];
        const previous = USERS[(r + 1) % 2] ?? USERS[1];
        const oldVersion = secret.versionId;
        const pw = password();
        const pending = await fixture.secrets.putPending(secret, value(next, pw)); // createSecret: the other user
        await fixture.send(putPendingEvent(secret.arn, pending));
        await admin.query(`ALTER ROLE ${next} PASSWORD '${pw}'`); // setSecret: only the role not in use changes
        await fixture.secrets.moveCurrent(secret, pending); // finishSecret
        for (const event of [moveCurrentEvent(secret.arn, pending, oldVersion), rotationSucceededEvent(secret.arn), labelUpdatedEvent(secret.arn, pending)]) await fixture.send(event);
        await waitUntil(() => pool.rotation.versionId === pending, { message: `the pool on version ${pending}` });
        expect(pool.rotation.user).toBe(next);
        const completed = load.completed();
        await waitUntil(() => load.completed() >= completed + 20, { message: 'queries on the new generation' });
        // The retired generation drained and ended: the previous user holds no connection.
        await waitUntil(async () => (await connectionsOf(previous)) === 0, { message: `the connections of ${previous} to be closed` });
      }
    } finally {
      result = await load.stop();
      await pool.end();
    }
    if (result === undefined) throw new Error('the load never stopped');
    expect(result.failures).toEqual([]);
    expect(result.operations).toBeGreaterThan(ROTATIONS * 20);
    expect(failedLogins() - loginsBefore).toBe(0);
    expect(seen).toEqual(new Set(USERS));
    // One read per rotation: the invalidation's version, nothing retried.
    expect(app.counting.reads.length - readsBefore).toBe(ROTATIONS);
    expect(pool.rotation.stats.authFailures).toBe(0);
    console.log(JSON.stringify({ alternatingUsers: { rotations: ROTATIONS, queries: result.operations, failed: result.failures.length, p99Ms: result.p99LatencyMs, maxMs: result.maxLatencyMs } }));
  });
});
