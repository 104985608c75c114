import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialCache, type CredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import { createRotatingPgPool, type RotatingPgPool, type RotatingPgPoolOptions } from '../../../src/sdk/pg/pg-pool.js';
import { captureLogger, type CapturedLogger } from '../../support/log-capture.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { startPostgres, type PgHandle } from '../../support/postgres.js';
import { SecretsManagerClientDouble } from '../../support/secrets-manager-client-double.js';
import { startCappedLoad } from '../../support/capped-load.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * `validateBeforeSwitch` of the rotating pg pool against a real PostgreSQL (scram-sha-256): a new
 * secret version whose password the server does not accept yet (the case of a server that learns
 * passwords later than Secrets Manager) must not take new queries away from the working pool. The
 * cache is the real CredentialCache over a Secrets Manager double, so the failure is counted where
 * operators read it: `status().counts` and the `CredentialValidationFailures` metric.
 */

const NAME = 'db';
const SECRET_ID = 'app/pg-validate';
const LOOPS = 4;
/** Retries within a few hundred ms: the tests wait for outcomes, not for the 1 s … 60 s default. */
const VALIDATE = { retryBackoff: { minMs: 50, maxMs: 200 } };

let server: PgHandle;
let admin: pg.Client;
let roles = 0;
const passwords: string[] = [];
const logs: CapturedLogger[] = [];
const open: Array<{ pool: RotatingPgPool; cache: CredentialCache }> = [];
const report: Record<string, unknown> = {};

beforeAll(async () => {
  server = await startPostgres();
  admin = new pg.Client({ host: server.host, port: server.port, user: 'postgres', password: server.superuser.password, database: 'postgres' });
  await admin.connect();
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
  console.log(`pg validate-before-switch numbers: ${JSON.stringify(report, null, 2)}`);
});

function newPassword(): string {
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  registerSecretValue(password, 'pg-validate-before-switch password');
  passwords.push(password);
  return password;
}

function value(user: string, password: string): string {
  return JSON.stringify({ engine: 'postgres', host: server.host, port: server.port, username: user, password, dbname: 'postgres' });
}

/** A role, a secret holding its password, a started cache and a pool on it with validation on. */
async function setup(poolOptions: RotatingPgPoolOptions) {
  roles += 1;
  const user = `app_validate_${roles}`;
  const password = newPassword();
  await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
  const sm = new SecretsManagerClientDouble();
  sm.create(SECRET_ID, value(user, password));
  const metrics = new MetricsRecorderDouble();
  const cacheLog = captureLogger({ component: 'cache' });
  const poolLog = captureLogger({ component: 'pg' });
  logs.push(cacheLog, poolLog);
  const cache = createCredentialCache({ secrets: { [NAME]: { secretId: SECRET_ID, json: true } }, secretsClient: sm.client, metrics, logger: cacheLog.logger });
  await cache.start();
  const pool = createRotatingPgPool(cache, NAME, { ...poolOptions, validateBeforeSwitch: VALIDATE, logger: poolLog.logger });
  open.push({ pool, cache });
  /** AWSCURRENT moves to a new version in "Secrets Manager" and the cache reads it (the invalidation). */
  const rotateSecret = async (next: string): Promise<string> => {
    const versionId = sm.putPending(SECRET_ID, value(user, next));
    sm.moveCurrent(SECRET_ID, versionId);
    await cache.forceRefresh(NAME);
    return versionId;
  };
  return { user, cache, pool, metrics, poolLog, rotateSecret, firstVersion: cache.current(NAME).versionId };
}

/** `loops` concurrent loops of a query that names the role it logged in as. */
function startLoad(pool: RotatingPgPool, loops = LOOPS) {
  return startCappedLoad(() => pool.query('SELECT current_user'), loops);
}

/** Backends of `user` that are connected now. */
async function backendsOf(user: string): Promise<number> {
  const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1', [user]);
  return Number(rows[0]?.n ?? 0);
}

describe('rotating pg pool with validateBeforeSwitch, against a real PostgreSQL', () => {
  it('keeps the working pool while the server refuses the new password, counts and retries, and switches once it accepts it: 0 failed queries', async () => {
    // Long-lived connections (no idle timeout): the old pool never needs a new login, so the switch
    // below can only come from a validation retry, not from the auth-failure recovery.
    const { user, cache, pool, metrics, poolLog, rotateSecret, firstVersion } = await setup({ max: LOOPS, idleTimeoutMillis: 0 });
    const load = startLoad(pool);
    await load.more(200);

    const next = newPassword();
    const newVersion = await rotateSecret(next); // the server does not know `next` yet
    await waitUntil(() => pool.rotation.stats.validationFailures >= 3, { timeoutMs: 10_000, message: 'three refused checks (retried with backoff)' });
    await load.more(200);

    expect(pool.rotation.versionId).toBe(firstVersion);
    expect(load.failures).toEqual([]);
    expect(cache.status().counts.credentialValidationFailures).toBe(pool.rotation.stats.validationFailures);
    expect(metrics.total('CredentialValidationFailures')).toBe(pool.rotation.stats.validationFailures);
    const refused = poolLog.records().filter((r) => r.msg === 'rotating client: the new credentials failed their check; the current ones stay in use, checking again later');
    expect(refused[0]).toMatchObject({ level: 'warn', secretName: NAME, versionId: newVersion, err: { code: '28P01' } });

    await admin.query(`ALTER ROLE ${user} PASSWORD '${next}'`); // the server catches up
    await waitUntil(() => pool.rotation.versionId === newVersion, { timeoutMs: 10_000, message: 'the switch once the server accepts the new password' });
    await load.more(200);
    await load.stop();

    expect(load.failures).toEqual([]);
    // The validation switched, not the recovery: no login was ever refused to the app's work.
    expect(pool.rotation.stats).toMatchObject({ authFailures: 0, recoveries: 0, switches: 1 });
    // The old pool drains; the new one serves (the checked connection among its connections).
    await waitUntil(async () => (await backendsOf(user)) <= LOOPS, { message: 'the old pool to drain' });
    const { rows } = await pool.query<{ who: string }>('SELECT current_user AS who');
    expect(rows[0]?.who).toBe(user);
    report.longLived = { refusedChecks: pool.rotation.stats.validationFailures, queries: load.completed };
  });

  it('a check that passes at once costs one login and a short wait, measured', async () => {
    const { user, pool, rotateSecret } = await setup({ max: LOOPS, idleTimeoutMillis: 0 });
    const load = startLoad(pool);
    await load.more(200);
    const next = newPassword();
    await admin.query(`ALTER ROLE ${user} PASSWORD '${next}'`); // setSecret first, as rotation functions do

    const started = performance.now();
    const newVersion = await rotateSecret(next);
    await waitUntil(() => pool.rotation.versionId === newVersion, { intervalMs: 1, message: 'the switch' });
    const switchMs = performance.now() - started;
    await load.more(200);
    await load.stop();

    expect(load.failures).toEqual([]);
    expect(pool.rotation.stats).toMatchObject({ validationFailures: 0, authFailures: 0, switches: 1 });
    report.passingCheck = { readToSwitchMs: Math.round(switchMs * 10) / 10, load: `${LOOPS} loops of SELECT on long-lived connections` };
  });

  it('under login churn (every query a new login): 0 failed queries while the check is refused and after the server accepts', async () => {
    const { user, pool, rotateSecret, firstVersion } = await setup({ max: LOOPS * 2, idleTimeoutMillis: 1, maxUses: 1 });
    const load = startLoad(pool);
    await load.more(100);

    const next = newPassword();
    const newVersion = await rotateSecret(next);
    await waitUntil(() => pool.rotation.stats.validationFailures >= 2, { timeoutMs: 10_000, message: 'two refused checks' });
    await load.more(200); // every one a new login, with the old password, which the server still accepts

    expect(pool.rotation.versionId).toBe(firstVersion);
    expect(load.failures).toEqual([]);

    await admin.query(`ALTER ROLE ${user} PASSWORD '${next}'`);
    await waitUntil(() => pool.rotation.versionId === newVersion, { timeoutMs: 10_000, message: 'the switch to the new password' });
    await load.more(200);
    await load.stop();

    // Whichever came first — the next check or a refused churn login's recovery — the app saw nothing.
    expect(load.failures).toEqual([]);
    expect(pool.rotation.stats.unrecovered).toBe(0);
    report.churn = { refusedChecks: pool.rotation.stats.validationFailures, recoveries: pool.rotation.stats.recoveries, queries: load.completed };
  });
});
