import { randomBytes } from 'node:crypto';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialCache, type CredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import { createRotatingMysql2Pool, type RotatingMysql2Pool, type RotatingMysql2PoolOptions } from '../../../src/sdk/mysql2/mysql2-pool.js';
import { ConnectionTerminatedError } from '../../../src/sdk/rotating/errors.js';
import { captureLogger, type CapturedLogger } from '../../support/log-capture.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { startMariadb, type MariadbHandle } from '../../support/mariadb.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import { SecretsManagerClientDouble } from '../../support/secrets-manager-client-double.js';
import { startCappedLoad } from '../../support/capped-load.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * The rotating mysql2 pool's `validateBeforeSwitch` and emergency revoke against a real MariaDB
 * (mysql_native_password, passwords changed with ALTER USER, which keeps sessions already logged
 * in). The cache is the real CredentialCache over a Secrets Manager double.
 */

const NAME = 'db';
const SECRET_ID = 'app/mysql-validate';
const DATABASE = 'rr_validate';
const LOOPS = 3;

let server: MariadbHandle;
let admin: Connection;
let users = 0;
const passwords: string[] = [];
const logs: CapturedLogger[] = [];
const open: Array<{ pool: RotatingMysql2Pool; cache: CredentialCache }> = [];
const report: Record<string, unknown> = {};

beforeAll(async () => {
  server = await startMariadb();
  admin = await createConnection({ host: server.host, port: server.port, user: server.admin.user, password: server.admin.password });
  await admin.query(`CREATE DATABASE ${DATABASE}`);
});

afterEach(async () => {
  for (const { pool, cache } of open.splice(0)) {
    await pool.end();
    await cache.stop();
  }
});

afterAll(async () => {
  await admin?.end();
  await server?.stop();
  const text = logs.flatMap((l) => l.lines()).join('\n');
  for (const password of passwords) expect(text).not.toContain(password);
  console.log(`mysql2 validate/terminate numbers: ${JSON.stringify(report, null, 2)}`);
});

function newPassword(): string {
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  registerSecretValue(password, 'mysql2-validate-terminate password');
  passwords.push(password);
  return password;
}

function value(user: string, password: string): string {
  return JSON.stringify({ engine: 'mysql', host: server.host, port: server.port, username: user, password, dbname: DATABASE });
}

async function alterPassword(user: string, password: string): Promise<void> {
  await admin.query(`ALTER USER '${user}'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('${password}')`);
}

async function setup(poolOptions: RotatingMysql2PoolOptions) {
  users += 1;
  const user = `app_v${users}`;
  const password = newPassword();
  await admin.query(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('${password}')`);
  await admin.query(`GRANT SELECT ON ${DATABASE}.* TO '${user}'@'127.0.0.1'`);
  const sm = new SecretsManagerClientDouble();
  sm.create(SECRET_ID, value(user, password));
  const metrics = new MetricsRecorderDouble();
  const cacheLog = captureLogger({ component: 'cache' });
  const poolLog = captureLogger({ component: 'mysql2' });
  logs.push(cacheLog, poolLog);
  const cache = createCredentialCache({ secrets: { [NAME]: { secretId: SECRET_ID, json: true } }, secretsClient: sm.client, metrics, logger: cacheLog.logger });
  await cache.start();
  const pool = createRotatingMysql2Pool(cache, NAME, { ...poolOptions, logger: poolLog.logger });
  open.push({ pool, cache });
  const rotateSecret = async (next: string): Promise<string> => {
    const versionId = sm.putPending(SECRET_ID, value(user, next));
    sm.moveCurrent(SECRET_ID, versionId);
    await cache.forceRefresh(NAME);
    return versionId;
  };
  return { user, cache, pool, metrics, poolLog, rotateSecret, firstVersion: cache.current(NAME).versionId };
}

function startLoad(pool: RotatingMysql2Pool, loops = LOOPS) {
  return startCappedLoad(() => pool.query('SELECT CURRENT_USER() AS who'), loops);
}

async function connected(ids: number[]): Promise<number> {
  const [rows] = await admin.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID IN (${ids.join(',')})`);
  return Number(rows[0]?.['n'] ?? 0);
}

describe('rotating mysql2 pool against a real MariaDB', () => {
  it('validateBeforeSwitch: keeps the working pool while the server refuses the new password, counts, retries, switches once accepted; 0 failed queries', async () => {
    const { user, cache, pool, metrics, rotateSecret, firstVersion } = await setup({
      connectionLimit: LOOPS,
      validateBeforeSwitch: { retryBackoff: { minMs: 50, maxMs: 200 } },
    });
    const load = startLoad(pool);
    await load.more(100);

    const next = newPassword();
    const newVersion = await rotateSecret(next); // MariaDB does not know `next` yet
    await waitUntil(() => pool.rotation.stats.validationFailures >= 3, { timeoutMs: 10_000, message: 'three refused checks' });
    await load.more(100);

    expect(pool.rotation.versionId).toBe(firstVersion);
    expect(load.failures).toEqual([]);
    expect(cache.status().counts.credentialValidationFailures).toBe(pool.rotation.stats.validationFailures);
    expect(metrics.total('CredentialValidationFailures')).toBe(pool.rotation.stats.validationFailures);

    await alterPassword(user, next); // sessions already logged in keep working, as MySQL does
    await waitUntil(() => pool.rotation.versionId === newVersion, { timeoutMs: 10_000, message: 'the switch once MariaDB accepts the new password' });
    await load.more(100);
    await load.stop();

    expect(load.failures).toEqual([]);
    expect(pool.rotation.stats).toMatchObject({ authFailures: 0, recoveries: 0, switches: 1 });
    report.validate = { refusedChecks: pool.rotation.stats.validationFailures, queries: load.completed };
  });

  it('terminateOld: closes the old pool at once — a checked-out connection and a query in flight fail with ConnectionTerminatedError, new queries run on the new password', async () => {
    const { user, cache, pool, poolLog, rotateSecret } = await setup({ connectionLimit: 4 });
    const held = await pool.getConnection();
    const [[heldRow]] = await held.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
    const heldId = Number(heldRow?.['id']);
    const sleeping = pool.query('SELECT SLEEP(30) AS slept').catch((err: unknown) => err);
    await waitUntil(async () => {
      const [rows] = await admin.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(30)%'");
      return Number(rows[0]?.['n']) === 1;
    }, { message: 'the long query to be running' });

    // A single-user rotation: the old generation keeps its connections (draining after their work).
    const next = newPassword();
    await alterPassword(user, next);
    await rotateSecret(next);
    expect(await connected([heldId])).toBe(1);

    const started = Date.now();
    await cache.forceRefresh(NAME, { terminateOld: true });

    const error = await sleeping;
    expect(error).toBeInstanceOf(ConnectionTerminatedError);
    expect(Date.now() - started).toBeLessThan(10_000); // not after the 30 s sleep
    await expect(held.query('SELECT 1')).rejects.toBeInstanceOf(Error);
    await waitUntil(async () => (await connected([heldId])) === 0, { message: 'the held connection gone from the server' });
    const [[row]] = await pool.query<RowDataPacket[]>('SELECT CURRENT_USER() AS who');
    expect(String(row?.['who'])).toBe(`${user}@127.0.0.1`);
    expect(pool.rotation.stats.terminations).toBe(1);
    held.release(); // the app gives it back late: nothing breaks
    expect(poolLog.records().some((r) => r.level === 'warn' && r['secretName'] === NAME && String(r.msg).includes('emergency revoke'))).toBe(true);
    report.terminateMs = Date.now() - started;
  });
});
