import { randomBytes } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { runCli } from '../../../src/ops/cli/run.js';
import { createCredentialCache, type CredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import type { RevokedEvent } from '../../../src/sdk/cache/types.js';
import { createRotatingPgPool, type RotatingPgPool } from '../../../src/sdk/pg/pg-pool.js';
import { ConnectionTerminatedError } from '../../../src/sdk/rotating/errors.js';
import { cliIoDouble } from '../../support/cli-io-double.js';
import { captureLogger, type CapturedLogger } from '../../support/log-capture.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { motoClientConfig, startMoto, type MotoHandle } from '../../support/moto-server.js';
import { MotoSecrets, type TestSecret } from '../../support/moto-secrets.js';
import { startPostgres, type PgHandle } from '../../support/postgres.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { leakedValues } from '../../support/subscribed-cache.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * The emergency revoke end to end, as an operator runs it after rotating a leaked credential:
 * `rotation-relay publish SECRET --terminate-old` (the CLI's in-process runner, configured only
 * through its environment) signs a `terminateOld` invalidation, a CredentialCache subscribed to
 * the same Redis verifies it, and its rotating pg pool closes the old generation's connections
 * at once. Real moto_server (DescribeSecret for the CLI, GetSecretValue for the cache),
 * redis-server and PostgreSQL.
 */

const NAME = 'db';

let moto: MotoHandle;
let redis: RedisHandle;
let server: PgHandle;
let admin: pg.Client;
let secrets: MotoSecrets;
const signingKey = randomBytes(32).toString('base64url');
const passwords: string[] = [];
const logs: CapturedLogger[] = [];
const values: string[] = [];

/** The AWS SDK reads its endpoint and credentials from the process environment, not the CLI's `io.env`. */
const AWS_VARIABLES = ['AWS_REGION', 'AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
const savedEnv = Object.fromEntries(AWS_VARIABLES.map((name) => [name, process.env[name]]));

beforeAll(async () => {
  registerSecretValue(signingKey, 'publish-terminate-old signing key');
  [moto, redis, server] = await Promise.all([startMoto(), startRedis(), startPostgres()]);
  Object.assign(process.env, { AWS_REGION: moto.region, AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey });
  secrets = new MotoSecrets(moto);
  admin = new pg.Client({ host: server.host, port: server.port, user: 'postgres', password: server.superuser.password, database: 'postgres' });
  await admin.connect();
});

afterAll(async () => {
  for (const name of AWS_VARIABLES) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
  await admin?.end();
  await Promise.allSettled([moto?.stop(), redis?.stop(), server?.stop()]);
  const text = logs.flatMap((l) => l.lines()).join('\n');
  expect(leakedValues(text, values)).toEqual([]);
  for (const password of passwords) expect(text).not.toContain(password);
});

function newPassword(): string {
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  registerSecretValue(password, 'publish-terminate-old password');
  passwords.push(password);
  return password;
}

function value(user: string, password: string): string {
  const text = JSON.stringify({ engine: 'postgres', host: server.host, port: server.port, username: user, password, dbname: 'postgres' });
  values.push(text);
  return text;
}

/** `rotation-relay publish …` in-process, with the environment an operator would export. */
async function publish(args: string[], env: Record<string, string | undefined> = {}) {
  const io = cliIoDouble({
    env: {
      AWS_REGION: moto.region,
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
      ROTATION_RELAY_REDIS_URL: redis.url,
      ROTATION_RELAY_SIGNING_KEYS: signingKey,
      ...env,
    },
  });
  const code = await runCli(['publish', ...args], io);
  return { code, io };
}

async function alive(pid: number): Promise<boolean> {
  const { rows } = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
  return rows.length === 1;
}

describe('rotation-relay publish SECRET --terminate-old, end to end', () => {
  let cache: CredentialCache;
  let pool: RotatingPgPool;
  let secret: TestSecret;
  let cacheLog: CapturedLogger;
  const user = 'app_leaked';

  beforeAll(async () => {
    const password = newPassword();
    await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
    secret = await secrets.create('app/leaked-db', value(user, password));
    cacheLog = captureLogger({ component: 'cache' });
    logs.push(cacheLog);
    cache = createCredentialCache({
      secrets: { [NAME]: { secretId: secret.name, json: true } },
      redis: { url: redis.url, cluster: false, keyPrefix: 'rotation-relay' },
      signingKeys: [signingKey],
      secretsClient: new SecretsManagerClient(motoClientConfig(moto)),
      logger: cacheLog.logger,
    });
    await cache.start();
    await waitUntil(() => cache.status().pubsub.connected, { message: 'the cache subscribed' });
    pool = createRotatingPgPool(cache, NAME, { max: 4 });
  });

  afterAll(async () => {
    await pool?.end();
    await cache?.stop();
  });

  it('a subscribed cache verifies the signed flag and its pg pool closes the old generation at once', async () => {
    // Prepare: a connection of the leaked password, held open by the app (given back in any case,
    // or the pool's end() would wait for it).
    const held = await pool.connect();
    let released = false;
    const release = (): void => {
      if (!released) held.release();
      released = true;
    };
    onTestFinished(release);
    const heldPid = (await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
    // The operator rotates (single-user: setSecret, finishSecret) and the fleet hears of it: a
    // plain publish, as the worker's broadcast would be. The old generation only drains.
    const next = newPassword();
    const versionId = await secrets.putPending(secret, value(user, next));
    await admin.query(`ALTER ROLE ${user} PASSWORD '${next}'`);
    await secrets.moveCurrent(secret, versionId);
    const plain = await publish([secret.name]);
    expect(plain.io.errText().join('\n')).toBe('');
    expect(plain.code).toBe(0);
    await waitUntil(() => pool.rotation.versionId === versionId, { message: 'the pool on the new version' });
    expect(await alive(heldPid)).toBe(true);
    const revoked: RevokedEvent[] = [];
    cache.on('revoked', (event) => revoked.push(event));

    // Act
    const { code, io } = await publish([secret.name, '--terminate-old', '--reason', 'leaked credential']);

    // Assess: the CLI's answer.
    expect(code).toBe(0);
    const printed = JSON.parse(io.outLines[0] ?? '{}') as Record<string, unknown>;
    expect(printed).toMatchObject({ secretArn: secret.arn, versionId, terminateOld: true });
    expect(Number(printed['receivers'])).toBeGreaterThanOrEqual(1);
    // The cache's: one revoke naming the version it holds.
    await waitUntil(() => revoked.length === 1, { message: 'the revoked event' });
    expect(revoked[0]).toMatchObject({ name: NAME, versionId, trigger: 'invalidation' });
    // The pool's: the held client of the old password is closed, on both ends.
    await waitUntil(async () => !(await alive(heldPid)), { message: 'the old backend gone from pg_stat_activity' });
    await expect(held.query('SELECT 1')).rejects.toThrow();
    release();
    expect(pool.rotation.stats.terminations).toBe(1);
    const { rows } = await pool.query<{ who: string }>('SELECT current_user AS who');
    expect(rows[0]?.who).toBe(user);
  });

  it('a query in flight on the old generation fails with ConnectionTerminatedError', async () => {
    // Prepare: another rotation with a long query still running on the password being retired.
    const sleeping = pool.query('SELECT pg_sleep(30)').then(
      () => 'finished',
      (err: unknown) => err,
    );
    await waitUntil(async () => {
      const { rows } = await admin.query("SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'", [user]);
      return rows.length === 1;
    }, { message: 'the long query to be running' });
    const next = newPassword();
    const versionId = await secrets.putPending(secret, value(user, next));
    await admin.query(`ALTER ROLE ${user} PASSWORD '${next}'`);
    await secrets.moveCurrent(secret, versionId);
    expect((await publish([secret.name])).code).toBe(0);
    await waitUntil(() => pool.rotation.versionId === versionId, { message: 'the pool on the new version' });

    // Act
    const started = Date.now();
    expect((await publish([secret.name, '--terminate-old'])).code).toBe(0);

    // Assess
    const error = await sleeping;
    expect(error).toBeInstanceOf(ConnectionTerminatedError);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(pool.rotation.stats.terminations).toBe(2);
  });

  it('refuses --terminate-old without signing keys (exit 2), publishing nothing', async () => {
    // Act
    const { code, io } = await publish([secret.name, '--terminate-old'], { ROTATION_RELAY_SIGNING_KEYS: undefined, ROTATION_RELAY_ALLOW_UNSIGNED: 'true' });

    // Assess
    expect(code).toBe(2);
    expect(io.outLines).toEqual([]);
    expect(io.errText().join('\n')).toContain('--terminate-old needs ROTATION_RELAY_SIGNING_KEYS');
  });
});
