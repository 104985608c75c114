import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import { createRotatingPgPool } from '../../../src/sdk/pg/pg-pool.js';
import { ConnectionTerminatedError } from '../../../src/sdk/rotating/errors.js';
import { captureLogger, type CapturedLogger } from '../../support/log-capture.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { startPostgres, type PgHandle } from '../../support/postgres.js';
import { SecretsManagerClientDouble } from '../../support/secrets-manager-client-double.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * The emergency revoke of the rotating pg pool against a real PostgreSQL: after a rotation the
 * old pool normally drains (its checked-out clients and queries in flight finish on the old
 * password); `forceRefresh(name, { terminateOld: true })` closes them at once instead. Checked on
 * both sides: the app's work fails with ConnectionTerminatedError, and the old backends are gone
 * from pg_stat_activity.
 */

const NAME = 'db';
const SECRET_ID = 'app/pg-terminate';

let server: PgHandle;
let admin: pg.Client;
const passwords: string[] = [];
const logs: CapturedLogger[] = [];

beforeAll(async () => {
  server = await startPostgres();
  admin = new pg.Client({ host: server.host, port: server.port, user: 'postgres', password: server.superuser.password, database: 'postgres' });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await server?.stop();
  const text = logs.flatMap((l) => l.lines()).join('\n');
  for (const password of passwords) expect(text).not.toContain(password);
});

function newPassword(): string {
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  registerSecretValue(password, 'pg-terminate-old password');
  passwords.push(password);
  return password;
}

function value(user: string, password: string): string {
  return JSON.stringify({ engine: 'postgres', host: server.host, port: server.port, username: user, password, dbname: 'postgres' });
}

async function alive(pids: number[]): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids]);
  return rows.map((r) => r.pid);
}

describe('rotating pg pool: emergency revoke against a real PostgreSQL', () => {
  it('closes the old generation at once: a held client and a query in flight fail, their backends leave pg_stat_activity, new queries use the new password', async () => {
    // Prepare: a role whose backends notice a vanished client within 100 ms even mid-query
    // (PostgreSQL 14+), so pg_stat_activity shows the sleeping backend gone too.
    const user = 'app_revoke';
    const password = newPassword();
    await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
    await admin.query(`ALTER ROLE ${user} SET client_connection_check_interval = '100ms'`);
    const sm = new SecretsManagerClientDouble();
    sm.create(SECRET_ID, value(user, password));
    const cacheLog = captureLogger({ component: 'cache' });
    const poolLog = captureLogger({ component: 'pg' });
    logs.push(cacheLog, poolLog);
    const cache = createCredentialCache({ secrets: { [NAME]: { secretId: SECRET_ID, json: true } }, secretsClient: sm.client, logger: cacheLog.logger });
    await cache.start();
    const pool = createRotatingPgPool(cache, NAME, { max: 4 });
    const errors: Error[] = [];
    pool.on('error', (err) => errors.push(err));

    const held = await pool.connect();
    const heldPid = (await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
    const sleeping = pool.query('SELECT pg_sleep(30)').then(
      () => 'finished',
      (err: unknown) => err,
    );
    await waitUntil(async () => {
      const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE usename = $1 AND query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'", [user]);
      return rows.length === 1;
    }, { message: 'the long query to be running' });
    const { rows: sleepers } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE usename = $1 AND query LIKE 'SELECT pg_sleep(30)%'", [user]);
    const sleepingPid = sleepers[0]?.pid ?? 0;

    // A single-user rotation: setSecret, then AWSCURRENT moves and the cache reads it. The old
    // generation keeps its two connections: the drain waits for them.
    const next = newPassword();
    await admin.query(`ALTER ROLE ${user} PASSWORD '${next}'`);
    sm.moveCurrent(SECRET_ID, sm.putPending(SECRET_ID, value(user, next)));
    await cache.forceRefresh(NAME);
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1); // on the new password
    expect(await alive([heldPid, sleepingPid])).toHaveLength(2);

    // Act
    const started = Date.now();
    await cache.forceRefresh(NAME, { terminateOld: true });

    // Assess: the app's side.
    const error = await sleeping;
    const failedAfterMs = Date.now() - started;
    expect(error).toBeInstanceOf(ConnectionTerminatedError);
    expect(error).toMatchObject({ code: 'CONNECTION_TERMINATED', secretName: NAME });
    expect(failedAfterMs).toBeLessThan(5_000); // at once, not after the 30 s sleep
    await expect(held.query('SELECT 1')).rejects.toThrow();
    held.release(); // given back late: no throw, no crash
    // The server's side: both backends of the old password are gone.
    await waitUntil(async () => (await alive([heldPid, sleepingPid])).length === 0, { message: 'the old backends gone from pg_stat_activity' });
    // New work: on the new password, undisturbed.
    const { rows } = await pool.query<{ who: string }>('SELECT current_user AS who');
    expect(rows[0]?.who).toBe(user);
    expect(pool.rotation.stats).toMatchObject({ terminations: 1, authFailures: 0 });
    expect(cache.status().counts.revocations).toBe(1);
    expect(cacheLog.records().find((r) => r['code'] === 'TERMINATE_OLD')).toMatchObject({ level: 'warn', name: NAME });
    console.log(`pg terminateOld: the query in flight failed ${failedAfterMs} ms after forceRefresh`);

    await pool.end();
    await cache.stop();
    // The destroyed sockets were reported to their work, not as pool 'error' events.
    expect(errors).toEqual([]);
  });
});
