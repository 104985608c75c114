/**
 * Rotation soak: app instances (own processes) under continuous pg, Redis and SMTP traffic while
 * every secret goes through many real single-user rotations, beside the same traffic on a plain
 * 30-second poll.
 *
 * A rotation is what a rotation Lambda does: PutSecretValue with AWSPENDING (createSecret), the
 * password changed in the server — and the old one refused from then on (setSecret) — then after
 * a window AWSCURRENT moved (finishSecret). Its events go through SQS and the real worker. The
 * three services rotate concurrently, round after round. Counted: failed operations, failed logins
 * the servers saw, Secrets Manager reads per instance per rotation, and operation latency in
 * steady state vs within a rotation window (setSecret → every instance switched).
 *
 * Then the peer users would pick instead, for PostgreSQL only: the AWS Advanced NodeJS Wrapper's
 * Secrets Manager plugin (soak-peer-pg.ts) under the same pg traffic and the same single-user
 * rotations, with at least as many rotations as the poll-only phase. It reads its secret without a
 * stage, which moto answers wrongly after a rotation, so it talks to moto through
 * test/support/aws-proxy-double.ts (addStageToStagelessReads), which adds AWSCURRENT as AWS would and counts the peer's reads.
 *
 * Usage: tsx bench/soak.ts [--quick] [--out FILE]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startMoto, type MotoHandle } from '../test/support/moto-server.js';
import { MotoSecrets, type TestSecret } from '../test/support/moto-secrets.js';
import { startPostgres, type PgHandle } from '../test/support/postgres.js';
import { startRedis, type RedisHandle } from '../test/support/redis-server.js';
import { labelUpdatedEvent, moveCurrentEvent, putPendingEvent, rotationSucceededEvent } from '../test/support/rotation-events.js';
import { startSmtpServer, type SmtpServerHandle } from '../test/support/smtp-server.js';
import { JsonLineChild, type ChildMessage } from './support/child.js';
import { now, sleep } from './support/clock.js';
import { startRelay, type Relay } from './support/relay.js';
import { startAwsProxyDouble, type AwsProxyDouble } from '../test/support/aws-proxy-double.js';
import { machine, progressFor, round, scenarioArgs, writeResult } from './support/scenario.js';
import type { SoakAppConfig } from './support/soak-app.js';
import { summarize } from './support/stats.js';

const args = scenarioArgs('soak', ['instances']);
const progress = progressFor('soak');
const APP = fileURLToPath(new URL('./support/soak-app.ts', import.meta.url));
const INSTANCES = Number(args.options.instances ?? 4);
// The peer gets at least as many pg rotations as the poll-only phase (issue 5).
const PLAN = args.quick ? { rounds: 6, baselineRounds: 3, peerRounds: 4 } : { rounds: 50, baselineRounds: 20, peerRounds: 20 };
/** setSecret → finishSecret: the window no event can close (about a minute with RDS-managed rotation). */
const WINDOW_MS = 150;
const PAUSE_BETWEEN_ROUNDS_MS = 200;
const BASELINE_POLL_MS = 30_000;
const PACE = { pauseMs: { pg: 20, redis: 20, smtp: 50 }, timeoutMs: 2_000 };
const KINDS = ['pg', 'redis', 'smtp'] as const;
const SERVICE_OF_KIND = { pg: 'db', redis: 'cache', smtp: 'mail' } as const;
type Service = 'db' | 'cache' | 'mail';

const password = (): string => `pw-${randomBytes(12).toString('hex')}`;

interface Summary {
  reads: Record<string, number>;
  ops: Array<[number, number, number, number]>;
  failures: Record<string, string[]>;
}

let relay: Relay | undefined;
let moto: MotoHandle | undefined;
let stageProxy: AwsProxyDouble | undefined;
let postgres: PgHandle | undefined;
let appRedis: RedisHandle | undefined;
let smtp: SmtpServerHandle | undefined;
let admin: { pg: pg.Client; redis: Redis } | undefined;
const apps: JsonLineChild[] = [];

try {
  progress('starting redis-server ×2, fauxqs, moto_server, PostgreSQL and an SMTP server');
  const passwords: Record<Service, string> = { db: password(), cache: password(), mail: password() };
  [relay, moto, postgres, appRedis, smtp] = await Promise.all([
    startRelay(),
    startMoto(),
    startPostgres(),
    startRedis({ aclUsers: [{ name: 'app', passwords: [passwords.cache] }] }),
    startSmtpServer({ users: new Map([['mailer', passwords.mail]]) }),
  ]);
  stageProxy = await startAwsProxyDouble(moto.endpoint, { addStageToStagelessReads: true });
  const pgAdmin = new pg.Client({ host: postgres.host, port: postgres.port, user: 'postgres', password: postgres.superuser.password, database: 'postgres' });
  admin = { pg: pgAdmin, redis: new Redis({ host: '127.0.0.1', port: appRedis.port }) };
  await admin.pg.connect();
  await admin.pg.query(`CREATE ROLE app LOGIN PASSWORD '${passwords.db}'`);
  const dataDir = String((await admin.pg.query<{ data_directory: string }>('SHOW data_directory')).rows[0]?.data_directory);
  const pgLog = join(dirname(dataDir), 'postgres.log');

  const secretsAdmin = new MotoSecrets(moto);
  const suffix = randomBytes(3).toString('hex');
  const secrets: Record<Service, TestSecret> = {
    db: await secretsAdmin.create(`soak/db-${suffix}`, JSON.stringify({ engine: 'postgres', host: postgres.host, port: postgres.port, dbname: 'postgres', username: 'app', password: passwords.db })),
    cache: await secretsAdmin.create(`soak/cache-${suffix}`, JSON.stringify({ username: 'app', password: passwords.cache })),
    mail: await secretsAdmin.create(`soak/mail-${suffix}`, JSON.stringify({ username: 'mailer', password: passwords.mail })),
  };
  await relay.startWorker(secretsAdmin.client);

  /** Failed logins each server has seen so far. */
  const failedLogins = async (): Promise<Record<Service, number>> => {
    // Redis 7.0 has no auth-failure counter in INFO; ACL LOG aggregates failed AUTHs with a count.
    const entries = ((await admin?.redis.call('ACL', 'LOG', '10000')) ?? []) as unknown[][];
    const redisDenied = entries
      .map((entry) => Object.fromEntries(Array.from({ length: entry.length / 2 }, (_, i) => [String(entry[2 * i]), entry[2 * i + 1]])))
      .filter((entry) => entry.reason === 'auth')
      .reduce((sum, entry) => sum + Number(entry.count ?? 0), 0);
    const pgFailed = (readFileSync(pgLog, 'utf8').match(/password authentication failed for user "app"/g) ?? []).length;
    return { db: pgFailed, cache: redisDenied, mail: smtp?.counts.authFailures ?? 0 };
  };

  /** Per app, per service: versions it announced (`rotated` lines), for convergence waits. */
  const held = new Map<JsonLineChild, Map<Service, string>>();
  const waiters = new Set<() => void>();
  const startApps = async (mode: SoakAppConfig['mode']): Promise<void> => {
    for (let i = 0; i < INSTANCES; i += 1) {
      const config: SoakAppConfig = {
        instanceId: `${mode}-${i}`,
        mode,
        pollIntervalMs: mode === 'poll' ? BASELINE_POLL_MS : 30 * 60_000,
        aws: { endpoint: mode === 'peer' ? stageProxy!.endpoint : moto!.endpoint, region: moto!.region, credentials: { ...moto!.credentials } },
        bus: { url: relay!.redis.url, signingKeys: relay!.signingKeys },
        secrets: { db: secrets.db.arn, cache: secrets.cache.arn, mail: secrets.mail.arn },
        pg: { host: postgres!.host, port: postgres!.port, database: 'postgres' },
        redis: { host: '127.0.0.1', port: appRedis!.port },
        smtp: { host: smtp!.host, port: smtp!.port },
        ...PACE,
      };
      // The peer's plugin builds its own SDK client: it finds moto's (any) credentials in the environment.
      const credentials: Record<string, string> = mode === 'peer' ? { AWS_ACCESS_KEY_ID: moto!.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: moto!.credentials.secretAccessKey } : {};
      const app = new JsonLineChild(APP, { SOAK_APP_CONFIG: JSON.stringify(config), ...credentials }, config.instanceId);
      held.set(app, new Map());
      app.on('message', (m: ChildMessage) => {
        if (m.type !== 'rotated') return;
        held.get(app)?.set(m.name as Service, String(m.versionId));
        for (const wake of waiters) wake();
      });
      apps.push(app);
    }
    await Promise.all(apps.map((app) => app.next((m) => m.type === 'ready', 'the app instance to start', 60_000)));
  };
  const converged = (service: Service, versionId: string, timeoutMs: number): Promise<boolean> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (apps.every((app) => held.get(app)?.get(service) === versionId)) finish(true);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(ok);
      };
      waiters.add(check);
      check();
    });
  const stopApps = async (): Promise<Summary[]> => {
    const summaries = await Promise.all(apps.map((app) => app.request({ cmd: 'stop' }, 'summary', 60_000)));
    await Promise.allSettled(apps.map((app) => app.process.exited));
    apps.length = 0;
    held.clear();
    return summaries as unknown as Summary[];
  };

  /** Single-user rotation of one service, as a rotation Lambda does it. Returns its window. */
  async function rotate(service: Service, waitForFleet: boolean): Promise<{ service: Service; from: number; to: number; converged: boolean }> {
    const secret = secrets[service];
    const next = password();
    const oldVersion = secret.versionId;
    const value = { ...(JSON.parse(secret.values.at(-1) ?? '{}') as Record<string, unknown>), password: next };
    const pending = await secretsAdmin.putPending(secret, JSON.stringify(value)); // createSecret
    await relay!.send(putPendingEvent(secret.arn, pending));
    const from = now();
    if (service === 'db') await admin!.pg.query(`ALTER ROLE app PASSWORD '${next}'`); // setSecret
    if (service === 'cache') {
      await admin!.redis.call('ACL', 'SETUSER', 'app', 'resetpass', `>${next}`);
      await admin!.redis.call('CLIENT', 'KILL', 'USER', 'app');
    }
    if (service === 'mail') smtp!.setUsers(new Map([['mailer', next]]));
    await sleep(WINDOW_MS);
    await secretsAdmin.moveCurrent(secret, pending); // finishSecret
    for (const event of [moveCurrentEvent(secret.arn, pending, oldVersion), rotationSucceededEvent(secret.arn), labelUpdatedEvent(secret.arn, pending)]) await relay!.send(event);
    const ok = waitForFleet ? await converged(service, pending, 15_000) : (await sleep(250), true);
    return { service, from, to: now(), converged: ok };
  }

  /** Reads of each service's secret through the stage proxy so far (only the peer reads through it). */
  const proxyReads = (): Record<Service, number> => {
    const reads = stageProxy!.reads();
    return { db: reads[secrets.db.arn] ?? 0, cache: reads[secrets.cache.arn] ?? 0, mail: reads[secrets.mail.arn] ?? 0 };
  };

  async function phase(mode: SoakAppConfig['mode'], rounds: number, services: readonly Service[] = ['db', 'cache', 'mail']) {
    await startApps(mode);
    await sleep(1_000); // pools warm, steady traffic
    await admin!.redis.call('CONFIG', 'SET', 'acllog-max-len', '10000');
    await admin!.redis.call('ACL', 'LOG', 'RESET');
    const loginsBefore = await failedLogins();
    const readsBefore = proxyReads();
    const windows: Array<Awaited<ReturnType<typeof rotate>>> = [];
    const startedAt = now();
    for (let r = 0; r < rounds; r += 1) {
      windows.push(...(await Promise.all(services.map((service) => rotate(service, mode === 'ours')))));
      if ((r + 1) % Math.max(1, Math.ceil(rounds / 5)) === 0) progress(`${mode}: ${r + 1}/${rounds} rounds (${services.length} rotation${services.length === 1 ? '' : 's'} each)`);
      await sleep(PAUSE_BETWEEN_ROUNDS_MS);
    }
    const endedAt = now();
    await sleep(500);
    const loginsAfter = await failedLogins();
    const readsAfter = proxyReads();
    const summaries = await stopApps();
    const delta = (after: Record<Service, number>, before: Record<Service, number>) => Object.fromEntries(services.map((service) => [service, after[service] - before[service]])) as Partial<Record<Service, number>>;
    return { mode, services, summaries, windows, startedAt, endedAt, logins: delta(loginsAfter, loginsBefore), proxyReads: delta(readsAfter, readsBefore) };
  }

  function analyse(run: Awaited<ReturnType<typeof phase>>, rounds: number) {
    const inWindow = (service: Service, t: number): boolean => run.windows.some((w) => w.service === service && t >= w.from && t <= w.to);
    const steady: number[] = [];
    const rotating: number[] = [];
    const byKind: Record<string, { operations: number; failed: number; steady: number[]; rotating: number[]; failures: string[] }> = {};
    let operations = 0;
    let failed = 0;
    for (const summary of run.summaries) {
      for (const [k, startedAt, latency, ok] of summary.ops) {
        const kind = KINDS[k] ?? 'pg';
        const entry = (byKind[kind] ??= { operations: 0, failed: 0, steady: [], rotating: [], failures: [] });
        entry.operations += 1;
        operations += 1;
        if (!ok) {
          entry.failed += 1;
          failed += 1;
        }
        if (startedAt < run.startedAt || startedAt > run.endedAt || !ok) continue;
        const list = inWindow(SERVICE_OF_KIND[kind], startedAt) ? rotating : steady;
        list.push(latency);
        (list === rotating ? entry.rotating : entry.steady).push(latency);
      }
      for (const kind of KINDS) for (const message of summary.failures[kind] ?? []) if ((byKind[kind]?.failures.length ?? 0) < 3) byKind[kind]?.failures.push(message);
    }
    const seconds = (run.endedAt - run.startedAt) / 1000;
    const readsPerRotation = Object.fromEntries(
      run.services.map((service) => {
        // The peer's reads are counted by the stage proxy during the rotations (its app has no SDK client of ours).
        if (run.mode === 'peer') return [service, round((run.proxyReads[service] ?? 0) / (INSTANCES * rounds), 2)];
        const perInstance = run.summaries.map((s) => ((s.reads[secrets[service].arn] ?? 0) - 1) / rounds);
        return [service, round(perInstance.reduce((a, b) => a + b, 0) / perInstance.length, 2)];
      }),
    );
    const loginsPerRotation = Object.fromEntries(run.services.map((service) => [service, round((run.logins[service] ?? 0) / (INSTANCES * rounds), 2)]));
    const s = summarize(steady);
    const w = summarize(rotating);
    return {
      operations,
      failed,
      operationsPerSec: round(operations / seconds, 0),
      rotationsPerService: rounds,
      unconverged: run.windows.filter((x) => !x.converged).length,
      windowP50Ms: summarize(run.windows.map((x) => x.to - x.from)).p50,
      steadyP50Ms: s.p50,
      steadyP99Ms: s.p99,
      rotationP50Ms: w.p50,
      rotationP99Ms: w.p99,
      failedLogins: run.logins,
      failedLoginsPerRotationPerInstance: loginsPerRotation,
      readsPerRotationPerInstance: readsPerRotation,
      byKind: Object.fromEntries(
        Object.entries(byKind).map(([kind, e]) => [
          kind,
          { operations: e.operations, failed: e.failed, steadyP50Ms: summarize(e.steady).p50, steadyP99Ms: summarize(e.steady).p99, rotationP50Ms: summarize(e.rotating).p50, rotationP99Ms: summarize(e.rotating).p99, failures: e.failures },
        ]),
      ),
    };
  }

  progress(`ours: ${INSTANCES} app instances, ${PLAN.rounds} rounds of db + cache + mail single-user rotations`);
  const oursRun = analyse(await phase('ours', PLAN.rounds), PLAN.rounds);
  progress(`ours: ${oursRun.operations} operations, ${oursRun.failed} failed; steady p99 ${oursRun.steadyP99Ms} ms, rotation p99 ${oursRun.rotationP99Ms} ms`);
  progress(`poll-only (${BASELINE_POLL_MS / 1000} s): ${INSTANCES} app instances, ${PLAN.baselineRounds} rounds`);
  const baselineRun = analyse(await phase('poll', PLAN.baselineRounds), PLAN.baselineRounds);
  progress(`poll-only: ${baselineRun.operations} operations, ${baselineRun.failed} failed`);
  progress(`peer (AWS Advanced NodeJS Wrapper, Secrets Manager plugin): ${INSTANCES} app instances, pg only, ${PLAN.peerRounds} db rotations`);
  const peerRun = analyse(await phase('peer', PLAN.peerRounds, ['db']), PLAN.peerRounds);
  progress(`peer: ${peerRun.operations} operations, ${peerRun.failed} failed; per instance per rotation ${peerRun.failedLoginsPerRotationPerInstance.db} failed logins, ${peerRun.readsPerRotationPerInstance.db} reads`);

  const worst = (record: Record<string, number>): number => Math.max(...Object.values(record));
  writeResult(args.out, {
    scenario: 'soak',
    quick: args.quick,
    date: new Date().toISOString(),
    machine: machine(),
    instances: INSTANCES,
    windowMs: WINDOW_MS,
    pace: PACE,
    soak: {
      rotations: PLAN.rounds * 3,
      rotationsPerService: PLAN.rounds,
      operations: oursRun.operations,
      failed: oursRun.failed,
      operationsPerSec: oursRun.operationsPerSec,
      failedLoginsPerRotation: worst(oursRun.failedLoginsPerRotationPerInstance),
      readsPerRotationPerInstance: worst(oursRun.readsPerRotationPerInstance),
      steadyP50Ms: oursRun.steadyP50Ms,
      steadyP99Ms: oursRun.steadyP99Ms,
      rotationP50Ms: oursRun.rotationP50Ms,
      rotationP99Ms: oursRun.rotationP99Ms,
      baselineIntervalMs: BASELINE_POLL_MS,
      baselineRotations: PLAN.baselineRounds * 3,
      baselineOperations: baselineRun.operations,
      baselineFailed: baselineRun.failed,
      peerOperations: peerRun.operations,
      peerFailed: peerRun.failed,
      peerRotations: PLAN.peerRounds,
      peerFailedLoginsPerRotation: worst(peerRun.failedLoginsPerRotationPerInstance),
      peerReadsPerRotationPerInstance: worst(peerRun.readsPerRotationPerInstance),
      // Reads the proxy had to give a stage (all of the peer's, if the plugin still reads without one).
      peerStagelessReads: stageProxy.stagesAdded(),
      ours: oursRun,
      baseline: baselineRun,
      peer: peerRun,
    },
  });
  progress(`done: ${args.out}`);
} finally {
  await Promise.allSettled(apps.map((app) => app.stop()));
  await admin?.pg.end().catch(() => undefined);
  admin?.redis.disconnect();
  await Promise.allSettled([relay?.stop(), stageProxy?.stop(), moto?.stop(), postgres?.stop(), appRedis?.stop(), smtp?.stop()]);
}
process.exit(0);
