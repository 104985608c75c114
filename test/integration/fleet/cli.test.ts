import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convergenceOf, readFleet } from '../../../src/sdk/fleet/index.js';
import { waitConverged } from '../../../src/entry/fleet.js';
import { FleetOptionsError, FleetReadError, NotConvergedError } from '../../../src/entry/index.js';
import { runCliProcess, type CliProcess } from '../../support/cli-process.js';
import { freePort } from '../../support/free-port.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import type { TestSecret } from '../../support/moto-secrets.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent, rotationEvents } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';
import type { CacheInstanceConfig } from '../../support/cache-instance/main.js';
import { launchCacheInstance, readyInstanceId } from '../../support/cache-instance/launch.js';
import { startFreezeProxyDouble, type FreezeProxyDouble } from '../../support/freeze-proxy-double.js';

const INSTANCES = 3;

/**
 * `rotation-relay status` and `wait-converged` as operators run them (separate processes, env
 * only), against three app instances (separate processes) heartbeating into a private
 * redis-server, the real worker, moto_server and fauxqs.
 */
describe('rotation-relay status and wait-converged against a fleet of 3 instances', () => {
  let fixture: RelayFixture;
  let redis: Redis;
  let db: TestSecret;
  let mail: TestSecret;
  /** Instance 1 reaches Redis through this: the status test partitions it. */
  let proxy: FreezeProxyDouble;
  const instances: CliProcess[] = [];
  const ids: string[] = [];

  const env = (aws = true): Record<string, string> => ({
    ROTATION_RELAY_REDIS_URL: fixture.redis.url,
    ...(aws
      ? {
          AWS_REGION: fixture.moto.region,
          AWS_ENDPOINT_URL: fixture.moto.endpoint,
          AWS_ACCESS_KEY_ID: fixture.moto.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: fixture.moto.credentials.secretAccessKey,
        }
      : {}),
  });
  const cli = async (args: string[], aws = true): Promise<{ code: number | string; out: string; err: string }> => {
    const p = runCliProcess(args, env(aws));
    const code = await p.exited;
    return { code, out: p.stdout().join('\n'), err: p.stderr().join('\n') };
  };
  const rotate = async (secret: TestSecret, announce: boolean): Promise<string> => {
    const old = secret.versionId;
    const next = await fixture.secrets.rotate(secret);
    if (announce) for (const event of rotationEvents(secret.arn, next, old)) await fixture.send(event);
    return next;
  };
  const fleetHolds = (secret: TestSecret, versionId: string) =>
    waitUntil(
      async () => {
        const { code } = await cli(['wait-converged', secret.arn, '--version', versionId, '--timeout', '0s', '--min-instances', String(INSTANCES)], false);
        return code === 0;
      },
      { message: `the fleet to hold ${versionId}`, timeoutMs: 20_000, intervalMs: 200 },
    );

  beforeAll(async () => {
    fixture = await RelayFixture.start();
    await fixture.startWorker();
    redis = new Redis(fixture.redis.url);
    proxy = await startFreezeProxyDouble(fixture.redis.port);
    db = await fixture.createSecret('app/db');
    mail = await fixture.createSecret('app/mail');
    // A first broadcast of each, as after any earlier rotation, so status has a "last broadcast".
    await rotate(db, true);
    await rotate(mail, true);
    await waitUntil(async () => (await redis.hlen('{rotation-relay}:versions')) === 2, { message: 'both broadcasts' });
    for (let i = 0; i < INSTANCES; i += 1) {
      const config: CacheInstanceConfig = {
        aws: { endpoint: fixture.moto.endpoint, region: fixture.moto.region, credentials: { ...fixture.moto.credentials } },
        redisUrl: i === 1 ? proxy.url : fixture.redis.url,
        signingKeys: fixture.signingKeys,
        secrets: { db: db.name, mail: mail.arn },
        // The partitioned one keeps its presence through the partition; the last one is killed.
        presence: { heartbeatIntervalMs: 500, ttlMs: i === 1 ? 60_000 : 5_000 },
      };
      instances.push(launchCacheInstance(config, `app-${i}`));
    }
    for (const p of instances) ids.push(await readyInstanceId(p));
  }, 120_000);

  afterAll(async () => {
    for (const p of instances) p.signal('SIGKILL');
    redis?.disconnect();
    await proxy?.stop();
    await fixture?.stop();
  });

  it('wait-converged exits 0 once every live instance holds AWSCURRENT (the default version, read with DescribeSecret)', async () => {
    // Act
    const result = await cli(['wait-converged', db.name, '--timeout', '20s', '--poll', '200ms']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.out).toMatch(new RegExp(`^converged: all ${INSTANCES} live instances hold ${db.versionId} of ${db.arn.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(after `));
  });

  it('wait-converged exits 1 on timeout and lists the stale instances, then 0 once the change reaches them', async () => {
    // Prepare: AWSCURRENT moves, but no event reaches the worker yet: every instance is stale.
    const previous = db.versionId;
    const next = await rotate(db, false);

    // Act
    const timedOut = await cli(['wait-converged', db.name, '--timeout', '1s', '--poll', '200ms']);
    const timedOutJson = await cli(['wait-converged', db.arn, '--version', next, '--timeout', '300ms', '--json'], false);
    for (const event of rotationEvents(db.arn, next, previous)) await fixture.send(event);
    const converged = await cli(['wait-converged', db.name, '--timeout', '20s', '--poll', '200ms']);

    // Assess
    expect(timedOut.code).toBe(1);
    expect(timedOut.out.split('\n')[0]).toMatch(new RegExp(`^not converged after .*: ${INSTANCES} of ${INSTANCES} live instances still hold another version`));
    expect(timedOut.out).toMatch(/INSTANCE\s+HOLDS\s+STALE FOR\s+LAST SEEN/);
    for (const id of ids) expect(timedOut.out).toMatch(new RegExp(`${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+${previous}`));
    expect(timedOut.err).toContain(`0/${INSTANCES} live instances hold ${next} (${INSTANCES} stale)`);
    expect(timedOutJson.code).toBe(1);
    expect(JSON.parse(timedOutJson.out)).toMatchObject({ converged: false, secretArn: db.arn, versionId: next, instances: INSTANCES, holders: [], stale: ids.map(() => expect.objectContaining({ versionId: previous })) });
    expect(converged.code).toBe(0);
    expect(converged.out).toContain(`all ${INSTANCES} live instances hold ${next}`);
  });

  it('wait-converged refuses to call an empty fleet converged unless --min-instances 0, and checks its usage', async () => {
    // Prepare: a secret nobody uses.
    const unused = await fixture.createSecret('app/unused');

    // Act
    const strict = await cli(['wait-converged', unused.arn, '--version', unused.versionId, '--timeout', '300ms'], false);
    const lenient = await cli(['wait-converged', unused.arn, '--version', unused.versionId, '--timeout', '300ms', '--min-instances', '0'], false);
    const noSecret = await cli(['wait-converged']);
    const badTimeout = await cli(['wait-converged', db.arn, '--timeout', 'soon']);
    const noAws = await cli(['wait-converged', db.arn], false);

    // Assess
    expect(strict.code).toBe(1);
    expect(strict.out).toContain('only 0 live instances report the secret, fewer than minInstances (1)');
    expect(lenient.code).toBe(0);
    expect(lenient.out).toContain('no live instance reports the secret');
    expect([noSecret.code, badTimeout.code, noAws.code]).toEqual([2, 2, 2]);
    expect(badTimeout.err).toContain('--timeout takes a duration such as 500ms, 30s, 2m or 1h, got "soon"');
    expect(noAws.err).toContain('without --version the version to wait for is AWSCURRENT');
  });

  it('waitConverged (the library function) resolves, rejects with the stale instances, and validates its options', async () => {
    // Prepare
    const next = await rotate(mail, false);

    // Act
    const stale = await waitConverged({ redis, secretArn: mail.arn, versionId: next, timeoutMs: 200, pollMs: 50 }).catch((error: unknown) => error);
    const noVersion = await waitConverged({ redis, secretArn: mail.arn }).catch((error: unknown) => error);
    await fixture.send(labelUpdatedEvent(mail.arn, next));
    // By name, resolved through the versions hash once the broadcast is there.
    await waitUntil(async () => (await redis.hget('{rotation-relay}:versions', mail.arn))?.includes(next) ?? false, { message: 'the broadcast' });
    const done = await waitConverged({ redis, secretId: mail.name, versionId: next, timeoutMs: 15_000, pollMs: 100, minInstances: INSTANCES });

    // Assess
    expect(stale).toBeInstanceOf(NotConvergedError);
    expect((stale as NotConvergedError).code).toBe('FLEET_NOT_CONVERGED');
    expect((stale as NotConvergedError).result).toMatchObject({ converged: false, instances: INSTANCES, holders: [] });
    expect((stale as NotConvergedError).result.stale.map((s) => s.instanceId).sort()).toEqual([...ids].sort());
    expect(noVersion).toBeInstanceOf(FleetOptionsError);
    expect(done).toMatchObject({ converged: true, secretArn: mail.arn, versionId: next, instances: INSTANCES, stale: [] });
    expect(done.holders.every((h) => h.ackedAt <= Date.now())).toBe(true);
  });

  it('waitConverged bounds every Redis read and the DescribeSecret by timeoutMs: a Redis or a Secrets Manager that never answers rejects at the deadline', async () => {
    // Prepare: connections that were accepted and then go silent (no error, no answer, ever).
    const silentRedis = await startFreezeProxyDouble(fixture.redis.port);
    const silentAws = await startFreezeProxyDouble(Number(new URL(fixture.moto.endpoint).port));
    const reader = new Redis(silentRedis.url);
    const secretsClient = new SecretsManagerClient({ endpoint: silentAws.url.replace('redis:', 'http:'), region: fixture.moto.region, credentials: { ...fixture.moto.credentials } });
    try {
      await waitUntil(() => reader.status === 'ready', { message: 'the reader to connect' });
      silentRedis.freeze();
      silentAws.freeze();

      // Act
      const redisStarted = Date.now();
      const redisError = await waitConverged({ redis: reader, secretArn: db.arn, versionId: db.versionId, timeoutMs: 1_500, pollMs: 100 }).catch((error: unknown) => error);
      const redisTook = Date.now() - redisStarted;
      const awsStarted = Date.now();
      const awsError = await waitConverged({ redis, secretId: db.name, secretsClient, timeoutMs: 1_500 }).catch((error: unknown) => error);
      const awsTook = Date.now() - awsStarted;

      // Assess
      expect(redisError).toBeInstanceOf(FleetReadError);
      expect((redisError as FleetReadError).message).toMatch(/did not answer within the deadline/);
      expect(redisTook).toBeGreaterThanOrEqual(1_400);
      expect(redisTook).toBeLessThan(2_500);
      expect(awsError).toBeInstanceOf(FleetReadError);
      expect((awsError as FleetReadError).message).toMatch(new RegExp(`^DescribeSecret of ${db.name} did not answer within the deadline`));
      expect(awsTook).toBeGreaterThanOrEqual(1_400);
      expect(awsTook).toBeLessThan(2_500);
    } finally {
      reader.disconnect();
      secretsClient.destroy();
      await silentRedis.stop();
      await silentAws.stop();
    }
  });

  it('status shows, per secret, the version, how many live instances hold it and who is stale; --json for machines; --aws adds AWSCURRENT', async () => {
    // Prepare: db converged; then instance 1 is partitioned from Redis and misses mail's rotation,
    // and the last instance dies, so it shows as stopped.
    await fleetHolds(db, db.versionId);
    const partitionedId = ids[1] as string;
    proxy.freeze();
    const mailVersion = await rotate(mail, true);
    await waitUntil(async () => convergenceOf(await readFleet(redis, 'rotation-relay'), { secretArn: mail.arn, versionId: mailVersion }).holders.length === INSTANCES - 1, {
      message: 'the two connected instances to ack the new mail version',
    });
    const dying = instances[INSTANCES - 1] as CliProcess;
    dying.signal('SIGKILL');
    await dying.exited;
    const deadId = ids[INSTANCES - 1] as string;
    await waitUntil(async () => (await cli(['status', '--json'], false)).out.includes(`"stopped":[{"id":"${deadId}"`), { message: 'the dead instance to expire', timeoutMs: 20_000, intervalMs: 500 });

    // Act
    const table = await cli(['status'], false);
    const json = await cli(['status', '--json'], false);
    const aws = await cli(['status', '--aws']);
    // What Redis itself says, for the cross-check line (the partitioned instance's subscriber
    // connection may or may not have been replaced by a health check meanwhile).
    const [, numsub] = (await redis.pubsub('NUMSUB', '{rotation-relay}:invalidations')) as [string, number];

    // Assess
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(table.code).toBe(0);
    const lines = table.out.split('\n');
    expect(lines[0]).toBe(`${INSTANCES - 1} live instances, 1 stopped heartbeating; staleness measured against the last broadcast`);
    expect(table.out).toMatch(/SECRET\s+VERSION\s+PUBLISHED\s+INSTANCES\s+ON VERSION\s+STALE/);
    expect(table.out).toMatch(new RegExp(`${db.name}\\s+${db.versionId}\\s+\\S+Z\\s+2\\s+2\\s+0`));
    expect(table.out).toMatch(new RegExp(`${mail.name}\\s+${mailVersion}\\s+\\S+Z\\s+2\\s+1\\s+1`));
    expect(table.out).toMatch(new RegExp(`Stale instances[^]*${escape(mail.name)}\\s+${escape(partitionedId)}\\s+\\S+\\s+\\d`));
    expect(table.out).toMatch(new RegExp(`Stopped heartbeating[^]*${escape(deadId)}`));
    // Redis's own count, and no subscriber without presence: the partitioned instance still reports.
    expect(lines[1]).toBe(`${numsub} subscriber${numsub === 1 ? '' : 's'} on the channel, ${INSTANCES - 1} report presence`);
    expect(lines[2]).toMatch(new RegExp(`^by SDK: rotation-relay/\\d+\\.\\d+\\.\\d+\\S* × ${INSTANCES - 1}$`));
    expect(table.out).toMatch(/STALE\s+REACHED/);
    const parsed = JSON.parse(json.out) as {
      secrets: Array<Record<string, unknown>>;
      instances: { live: unknown[]; stopped: Array<{ id: string }> };
      subscribers: Record<string, unknown>;
    };
    expect(parsed.subscribers).toMatchObject({ channel: '{rotation-relay}:invalidations', subscribers: numsub, reporting: INSTANCES - 1, unaccounted: 0, method: 'client-list', complete: true });
    // db last rotated while all three listened: the worker's timeline kept PUBLISH's receiver count.
    expect(parsed.secrets.find((s) => s['secretArn'] === db.arn)).toMatchObject({ fleet: { lastPublish: { receivers: INSTANCES, at: expect.any(String) } } });
    expect(parsed.secrets.find((s) => s['secretArn'] === db.arn)).toMatchObject({
      secretName: db.name,
      versionId: db.versionId,
      publishedAt: expect.any(String),
      reason: expect.any(String),
      eventId: expect.any(String),
      fleet: { targetVersionId: db.versionId, instances: 2, holding: 2, stale: [] },
    });
    expect(parsed.secrets.find((s) => s['secretArn'] === mail.arn)).toMatchObject({
      versionId: mailVersion,
      fleet: { targetVersionId: mailVersion, instances: 2, holding: 1, stale: [expect.objectContaining({ instanceId: partitionedId, staleForMs: expect.any(Number) })] },
    });
    expect(parsed.instances.live).toHaveLength(INSTANCES - 1);
    expect(parsed.instances.stopped.map((s) => s.id)).toContain(deadId);
    expect(aws.code).toBe(0);
    expect(aws.out).toMatch(/SECRET\s+VERSION\s+AWSCURRENT\s+PUBLISHED/);
    expect(aws.out).toMatch(new RegExp(`${db.name}\\s+${db.versionId}\\s+${db.versionId}`));
    proxy.reset(); // the partition heals: the instance reconnects and reconciles
    const healed = await waitConverged({ redis, secretArn: mail.arn, versionId: mailVersion, timeoutMs: 15_000, pollMs: 100, minInstances: INSTANCES - 1 });
    expect(healed.holders.map((h) => h.instanceId)).toContain(partitionedId);
    // For the README's "Fleet convergence" section: the real output of this run.
    process.stdout.write(`[fleet] rotation-relay status (local run):\n${table.out}\n`);
  }, 60_000);
});

describe('wait-converged --timeout is the whole deadline, the Redis connection included', () => {
  it('exits 1 within the deadline when nothing listens on the Redis port, naming the Redis target and never its credentials', async () => {
    // Prepare: a port nothing listens on, and a URL with credentials that must not be printed.
    const port = await freePort();
    const password = 'wait-converged-deadline-password';
    registerSecretValue(password, 'the Redis URL password of the deadline test');
    const env = { ROTATION_RELAY_REDIS_URL: `redis://reader:${password}@127.0.0.1:${port}` };
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf';
    // What starting the process costs on this machine now: a run that stops at argument parsing.
    const startupStarted = Date.now();
    await runCliProcess(['wait-converged', arn, '--version', 'v1', '--timeout', 'soon'], env).exited;
    const startupMs = Date.now() - startupStarted;

    // Act
    const started = Date.now();
    const run = runCliProcess(['wait-converged', arn, '--version', 'v1', '--timeout', '2s'], env);
    const code = await run.exited;
    const tookMs = Date.now() - started;

    // Assess
    const err = run.stderr().join('\n');
    expect(code).toBe(1);
    expect(err).toContain(`Redis at redis://127.0.0.1:${port} not ready within`);
    expect(err).toContain('[FLEET_READ_FAILED]');
    expect(err + run.stdout().join('\n')).not.toContain(password);
    expect(tookMs).toBeGreaterThanOrEqual(2_000);
    expect(tookMs).toBeLessThan(startupMs + 2_000 + 1_500);
    process.stdout.write(`[fleet] wait-converged --timeout 2s with Redis down: exited after ${tookMs} ms (process start ${startupMs} ms)\n`);
  }, 30_000);
});
