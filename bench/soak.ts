/**
 * Rotation soak: app instances (own processes) under continuous pg, Redis and SMTP traffic while
 * every secret goes through many real single-user rotations, beside the same traffic on a plain
 * poll (poll-only).
 *
 * A rotation is what a rotation Lambda does: PutSecretValue with AWSPENDING (createSecret), the
 * password changed in the server — and the old one refused from then on (setSecret) — then after
 * a window AWSCURRENT moved (finishSecret). Its events go through SQS and the real worker. The
 * three services rotate concurrently, round after round. Counted: failed operations, failed logins
 * the servers saw, Secrets Manager reads per instance per rotation, and operation latency in
 * steady state vs within a rotation: started in its window (setSecret → every instance switched),
 * or the instance's first operation of that kind after its own switch (the one that opens a
 * connection on the new credentials, which may start after the last instance switched).
 *
 * Poll-only: the poll interval is a fraction of the phase (BASELINE_POLL_MS), each round starts
 * after a random delay of up to one interval, so rotations land at random points of every
 * instance's poll cycle, and a round waits until every instance's poll has picked the new version
 * up. Its failures are those between a rotation and the next poll.
 *
 * Then the peer users would pick instead, for PostgreSQL only: the AWS Advanced NodeJS Wrapper's
 * Secrets Manager plugin (soak-peer-pg.ts) under the same pg traffic and the same single-user
 * rotations, with at least as many rotations as the poll-only phase. It reads its secret without a
 * stage, which moto answers wrongly after a rotation, so it talks to moto through
 * test/support/aws-proxy-double.ts (addStageToStagelessReads), which adds AWSCURRENT as AWS would and counts the peer's reads.
 * Right before it, the pg-only phase runs our SDK on exactly the peer's work: the pg loop alone on
 * as many instances, as many db rotations with the same procedure and the same fixed waits (no
 * waiting for the fleet), its reads counted by the same proxy; so `soak.pgOnly*` and `soak.peer*`
 * compare field by field, while the mixed phase (`soak.*`, `soak.ours`) rotates all three secrets.
 *
 * MySQL: one instance of the mixed phase also runs a MySQL loop on the rotating mysql2 pool against
 * a private MariaDB (test/support/mariadb.ts), whose secret rotates in every round with the other
 * three; its operations and failures are reported beside pg's (`soak.byService`).
 *
 * SMTP: a new connection to the test server (smtp-server) waits 100 ms for its greeting (the
 * server's early-talker delay), so the pool keeps its connections (SMTP_POOL.maxMessages); they
 * are replaced only when the credentials switch.
 *
 * Usage: tsx bench/soak.ts [--quick] [--out FILE]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Connection } from 'mysql2/promise';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { startMoto, type MotoHandle } from '../test/support/moto-server.js';
import { MotoSecrets, type TestSecret } from '../test/support/moto-secrets.js';
import { startMariadb, type MariadbHandle } from '../test/support/mariadb.js';
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
import { SOAK_KINDS, type SoakKind } from './support/soak-kinds.js';
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
/**
 * Poll-only's interval: a fraction of its phase (a round lasts one to two intervals: a random
 * delay, the window, the wait for every instance's poll), so the instances poll many times in it
 * (soak.baselinePollsPerInstance). Its failures per rotation grow with the interval: an instance
 * keeps the old password until its next poll, half an interval on average.
 */
const BASELINE_POLL_MS = 1_000;
/** The fixed wait after finishSecret in the pg-only and peer phases (the peer has no switch signal to wait for). */
const FIXED_WAIT_AFTER_FINISH_MS = 250;
/**
 * nodemailer pool. maxMessages: a connection is never recycled by count in a run (an instance
 * sends at most one message per 50 ms pause), only replaced when the credentials switch.
 * Recycling every 5th message put a new connection, and so the test server's 100 ms greeting
 * delay (smtp-server's early-talker wait), in one send out of five: the steady p99 was that wait.
 */
const SMTP_POOL = { maxConnections: 2, maxMessages: 1_000_000 };
const PACE = { pauseMs: { pg: 20, redis: 20, smtp: 50, mysql: 20 }, timeoutMs: 2_000 };
const KINDS = SOAK_KINDS;
const SERVICE_OF_KIND = { pg: 'db', redis: 'cache', smtp: 'mail', mysql: 'mysqldb' } as const;
type Service = 'db' | 'cache' | 'mail' | 'mysqldb';
/** The instances of the mixed phase that also run the MySQL loop (the first ones). */
const MYSQL_INSTANCES = 1;

const password = (): string => `pw-${randomBytes(12).toString('hex')}`;

interface Summary {
  reads: Record<string, number>;
  ops: Array<[number, number, number, number]>;
  failures: Record<string, string[]>;
}

/** One phase: which app mode on which traffic, which rotations, paced how. */
interface PhaseSpec {
  /** Names the instances and the progress lines. */
  label: string;
  mode: SoakAppConfig['mode'];
  /** The app's loops (`ours` only); pg, redis and smtp when absent. */
  kinds?: readonly SoakKind[];
  /** The first MYSQL_INSTANCES instances also run the MySQL loop (`ours` only). */
  mysql?: boolean;
  rounds: number;
  /** Rotated concurrently in each round. */
  services: readonly Service[];
  /** After finishSecret: wait until every instance switched, or a fixed FIXED_WAIT_AFTER_FINISH_MS. */
  wait: 'fleet' | 'fixed';
  fleetTimeoutMs: number;
  /** Before each round, a uniformly random delay up to this (poll-only: one interval). */
  randomDelayMaxMs: number;
  /** The apps reach moto_server through the stage proxy, which counts their reads. */
  viaProxy: boolean;
  /** readsPerRotationPerInstance from the proxy's count (as the peer's) rather than the apps' own. */
  readsFromProxy: boolean;
}

let relay: Relay | undefined;
let moto: MotoHandle | undefined;
let stageProxy: AwsProxyDouble | undefined;
let postgres: PgHandle | undefined;
let appRedis: RedisHandle | undefined;
let smtp: SmtpServerHandle | undefined;
let mariadb: MariadbHandle | undefined;
let admin: { pg: pg.Client; redis: Redis; mysql: Connection } | undefined;
const apps: JsonLineChild[] = [];

try {
  progress('starting redis-server ×2, fauxqs, moto_server, PostgreSQL, MariaDB and an SMTP server');
  const passwords: Record<Service, string> = { db: password(), cache: password(), mail: password(), mysqldb: password() };
  [relay, moto, postgres, appRedis, smtp, mariadb] = await Promise.all([
    startRelay(),
    startMoto(),
    startPostgres(),
    startRedis({ aclUsers: [{ name: 'app', passwords: [passwords.cache] }] }),
    startSmtpServer({ users: new Map([['mailer', passwords.mail]]) }),
    startMariadb(),
  ]);
  stageProxy = await startAwsProxyDouble(moto.endpoint, { addStageToStagelessReads: true });
  const pgAdmin = new pg.Client({ host: postgres.host, port: postgres.port, user: 'postgres', password: postgres.superuser.password, database: 'postgres' });
  admin = {
    pg: pgAdmin,
    redis: new Redis({ host: '127.0.0.1', port: appRedis.port }),
    mysql: await createConnection({ host: '127.0.0.1', port: mariadb.port, user: mariadb.admin.user, password: mariadb.admin.password }),
  };
  await admin.pg.connect();
  await admin.pg.query(`CREATE ROLE app LOGIN PASSWORD '${passwords.db}'`);
  await admin.mysql.query(`CREATE USER 'app'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('${passwords.mysqldb}')`);
  await admin.mysql.query('CREATE DATABASE soak');
  await admin.mysql.query("GRANT ALL PRIVILEGES ON soak.* TO 'app'@'127.0.0.1'");
  const dataDir = String((await admin.pg.query<{ data_directory: string }>('SHOW data_directory')).rows[0]?.data_directory);
  const pgLog = join(dirname(dataDir), 'postgres.log');

  const secretsAdmin = new MotoSecrets(moto);
  const suffix = randomBytes(3).toString('hex');
  const secrets: Record<Service, TestSecret> = {
    db: await secretsAdmin.create(`soak/db-${suffix}`, JSON.stringify({ engine: 'postgres', host: postgres.host, port: postgres.port, dbname: 'postgres', username: 'app', password: passwords.db })),
    cache: await secretsAdmin.create(`soak/cache-${suffix}`, JSON.stringify({ username: 'app', password: passwords.cache })),
    mail: await secretsAdmin.create(`soak/mail-${suffix}`, JSON.stringify({ username: 'mailer', password: passwords.mail })),
    mysqldb: await secretsAdmin.create(`soak/mysql-${suffix}`, JSON.stringify({ engine: 'mysql', host: '127.0.0.1', port: mariadb.port, dbname: 'soak', username: 'app', password: passwords.mysqldb })),
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
    const [mysqlRows] = ((await admin?.mysql.query("SHOW GLOBAL STATUS LIKE 'Access_denied_errors'")) ?? [[]]) as unknown as [Array<{ Value: string }>];
    return { db: pgFailed, cache: redisDenied, mail: smtp?.counts.authFailures ?? 0, mysqldb: Number(mysqlRows[0]?.Value ?? 0) };
  };

  /** Per app, per service: versions it announced (`rotated` lines), for convergence waits. */
  const held = new Map<JsonLineChild, Map<Service, string>>();
  /** Per app, the services its loops use: a rotation waits for those apps only. */
  const serves = new Map<JsonLineChild, ReadonlySet<Service>>();
  /** Every switch an app announced in the current phase: when (its clock stamp) it held which version. */
  const switches: Array<{ app: JsonLineChild; service: Service; versionId: string; at: number }> = [];
  const waiters = new Set<() => void>();
  const startApps = async (spec: PhaseSpec): Promise<void> => {
    for (let i = 0; i < INSTANCES; i += 1) {
      const kinds: readonly SoakKind[] = spec.kinds ?? (spec.mysql && i < MYSQL_INSTANCES ? ['pg', 'redis', 'smtp', 'mysql'] : ['pg', 'redis', 'smtp']);
      const config: SoakAppConfig = {
        instanceId: `${spec.label}-${i}`,
        mode: spec.mode,
        kinds: [...kinds],
        pollIntervalMs: spec.mode === 'poll' ? BASELINE_POLL_MS : 30 * 60_000,
        aws: { endpoint: spec.viaProxy ? stageProxy!.endpoint : moto!.endpoint, region: moto!.region, credentials: { ...moto!.credentials } },
        bus: { url: relay!.redis.url, signingKeys: relay!.signingKeys },
        secrets: { db: secrets.db.arn, cache: secrets.cache.arn, mail: secrets.mail.arn, mysqldb: secrets.mysqldb.arn },
        pg: { host: postgres!.host, port: postgres!.port, database: 'postgres' },
        mysql: { host: '127.0.0.1', port: mariadb!.port, database: 'soak' },
        redis: { host: '127.0.0.1', port: appRedis!.port },
        smtp: { host: smtp!.host, port: smtp!.port, ...SMTP_POOL },
        ...PACE,
      };
      // The peer's plugin builds its own SDK client: it finds moto's (any) credentials in the environment.
      const credentials: Record<string, string> = spec.mode === 'peer' ? { AWS_ACCESS_KEY_ID: moto!.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: moto!.credentials.secretAccessKey } : {};
      const app = new JsonLineChild(APP, { SOAK_APP_CONFIG: JSON.stringify(config), ...credentials }, config.instanceId);
      held.set(app, new Map());
      serves.set(app, new Set(kinds.map((kind) => SERVICE_OF_KIND[kind])));
      app.on('message', (m: ChildMessage) => {
        if (m.type !== 'rotated') return;
        held.get(app)?.set(m.name as Service, String(m.versionId));
        switches.push({ app, service: m.name as Service, versionId: String(m.versionId), at: Number(m.at) });
        for (const wake of waiters) wake();
      });
      apps.push(app);
    }
    await Promise.all(apps.map((app) => app.next((m) => m.type === 'ready', 'the app instance to start', 60_000)));
  };
  const converged = (service: Service, versionId: string, timeoutMs: number): Promise<boolean> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (apps.every((app) => !serves.get(app)?.has(service) || held.get(app)?.get(service) === versionId)) finish(true);
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
    serves.clear();
    return summaries as unknown as Summary[];
  };

  /**
   * Single-user rotation of one service, as a rotation Lambda does it. Returns its window:
   * setSecret (`from`) → every instance switched (`wait: 'fleet'`, at most `fleetTimeoutMs`) or a
   * fixed wait after finishSecret (`wait: 'fixed'`, the peer's pacing) (`to`).
   */
  async function rotate(service: Service, wait: PhaseSpec['wait'], fleetTimeoutMs: number, hasSwitchSignal: boolean) {
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
    // MariaDB keeps sessions that logged in before ALTER USER: only new logins need the new password.
    if (service === 'mysqldb') await admin!.mysql.query(`ALTER USER 'app'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('${next}')`);
    await sleep(WINDOW_MS);
    await secretsAdmin.moveCurrent(secret, pending); // finishSecret
    const finishedAt = now();
    for (const event of [moveCurrentEvent(secret.arn, pending, oldVersion), rotationSucceededEvent(secret.arn), labelUpdatedEvent(secret.arn, pending)]) await relay!.send(event);
    let ok = true;
    if (wait === 'fleet') ok = await converged(service, pending, fleetTimeoutMs);
    else {
      await sleep(FIXED_WAIT_AFTER_FINISH_MS);
      // Not waited for, only checked: had every instance switched by then? (The peer has no signal: counted as switched.)
      if (hasSwitchSignal) ok = await converged(service, pending, 0);
    }
    return { service, versionId: pending, from, finishedAt, to: now(), converged: ok };
  }

  /** Reads of each service's secret through the stage proxy so far (the phases with `viaProxy`). */
  const proxyReads = (): Record<Service, number> => {
    const reads = stageProxy!.reads();
    return { db: reads[secrets.db.arn] ?? 0, cache: reads[secrets.cache.arn] ?? 0, mail: reads[secrets.mail.arn] ?? 0, mysqldb: reads[secrets.mysqldb.arn] ?? 0 };
  };

  async function phase(spec: PhaseSpec) {
    switches.length = 0;
    await startApps(spec);
    await sleep(1_000); // pools warm, steady traffic
    await admin!.redis.call('CONFIG', 'SET', 'acllog-max-len', '10000');
    await admin!.redis.call('ACL', 'LOG', 'RESET');
    const loginsBefore = await failedLogins();
    const readsBefore = proxyReads();
    const phaseApps = [...apps];
    // By instance (the order of `summaries`): the services its loops use.
    const serving = phaseApps.map((app) => serves.get(app) ?? new Set<Service>());
    const windows: Array<Awaited<ReturnType<typeof rotate>>> = [];
    const startedAt = now();
    for (let r = 0; r < spec.rounds; r += 1) {
      // Uniform over one interval: the round's rotations land at a random point of every instance's poll cycle.
      if (spec.randomDelayMaxMs > 0) await sleep(Math.random() * spec.randomDelayMaxMs);
      windows.push(...(await Promise.all(spec.services.map((service) => rotate(service, spec.wait, spec.fleetTimeoutMs, spec.mode !== 'peer')))));
      if ((r + 1) % Math.max(1, Math.ceil(spec.rounds / 5)) === 0) progress(`${spec.label}: ${r + 1}/${spec.rounds} rounds (${spec.services.length} rotation${spec.services.length === 1 ? '' : 's'} each)`);
      await sleep(PAUSE_BETWEEN_ROUNDS_MS);
    }
    const endedAt = now();
    const readsAtEnd = proxyReads();
    await sleep(500); // the last rotation's late reads and failed logins still count for it
    const loginsAfter = await failedLogins();
    const readsAfter = proxyReads();
    const summaries = await stopApps();
    const delta = (after: Record<Service, number>, before: Record<Service, number>) => Object.fromEntries(spec.services.map((service) => [service, after[service] - before[service]])) as Partial<Record<Service, number>>;
    // Each instance's switch to each rotation's version (by index in `summaries`, the order of `apps`); none for the peer.
    const switched = windows.flatMap((w) =>
      phaseApps.flatMap((app, instance) => {
        const hit = switches.find((x) => x.app === app && x.service === w.service && x.versionId === w.versionId);
        return hit ? [{ instance, service: w.service, at: hit.at, afterFinishMs: hit.at - w.finishedAt }] : [];
      }),
    );
    return {
      spec,
      summaries,
      windows,
      startedAt,
      endedAt,
      switched,
      serving,
      logins: delta(loginsAfter, loginsBefore),
      proxyReads: delta(readsAfter, readsBefore),
      proxyReadsInPhase: delta(readsAtEnd, readsBefore),
    };
  }

  /** rotation p99 ÷ steady p99 (null when either is missing). */
  const ratio = (rotationP99: number, steadyP99: number): number | null => (Number.isFinite(rotationP99) && Number.isFinite(steadyP99) && steadyP99 > 0 ? round(rotationP99 / steadyP99, 2) : null);

  function analyse(run: Awaited<ReturnType<typeof phase>>) {
    const rounds = run.spec.rounds;
    const inWindow = (service: Service, t: number): boolean => run.windows.some((w) => w.service === service && t >= w.from && t <= w.to);
    // Each instance's first operation of a kind after its own switch runs on the new credentials'
    // fresh connection (a new SMTP connection waits 100 ms for the test server's greeting): the
    // rotation's cost even when it starts after the window closed (after the last instance switched).
    const firstAfterSwitch = new Set<string>();
    const firstAfterSwitchMs: Record<string, number[]> = {};
    for (const sw of run.switched) {
      const k = KINDS.findIndex((kind) => SERVICE_OF_KIND[kind] === sw.service);
      const ops = run.summaries[sw.instance]?.ops ?? [];
      const i = ops.findIndex(([kind, startedAt]) => kind === k && startedAt >= sw.at);
      const op = ops[i];
      if (!op || firstAfterSwitch.has(`${sw.instance}:${i}`)) continue;
      firstAfterSwitch.add(`${sw.instance}:${i}`);
      if (op[3]) (firstAfterSwitchMs[KINDS[k] ?? 'pg'] ??= []).push(op[2]);
    }
    const steady: number[] = [];
    const rotating: number[] = [];
    const byKind: Record<string, { operations: number; failed: number; steady: number[]; rotating: number[]; failures: string[] }> = {};
    let operations = 0;
    let failed = 0;
    for (const [instance, summary] of run.summaries.entries()) {
      for (const [i, [k, startedAt, latency, ok]] of summary.ops.entries()) {
        const kind = KINDS[k] ?? 'pg';
        const entry = (byKind[kind] ??= { operations: 0, failed: 0, steady: [], rotating: [], failures: [] });
        entry.operations += 1;
        operations += 1;
        if (!ok) {
          entry.failed += 1;
          failed += 1;
        }
        if (startedAt < run.startedAt || startedAt > run.endedAt || !ok) continue;
        const list = inWindow(SERVICE_OF_KIND[kind], startedAt) || firstAfterSwitch.has(`${instance}:${i}`) ? rotating : steady;
        list.push(latency);
        (list === rotating ? entry.rotating : entry.steady).push(latency);
      }
      for (const kind of KINDS) for (const message of summary.failures[kind] ?? []) if ((byKind[kind]?.failures.length ?? 0) < 3) byKind[kind]?.failures.push(message);
    }
    const seconds = (run.endedAt - run.startedAt) / 1000;
    const readsPerRotation = Object.fromEntries(
      run.spec.services.map((service) => {
        // The peer's and the pg-only phase's reads are counted by the stage proxy during the rotations (the peer's app has no SDK client of ours).
        if (run.spec.readsFromProxy) return [service, round((run.proxyReads[service] ?? 0) / (INSTANCES * rounds), 2)];
        const perInstance = run.summaries.filter((_, i) => run.serving[i]?.has(service)).map((s) => ((s.reads[secrets[service].arn] ?? 0) - 1) / rounds);
        return [service, round(perInstance.reduce((a, b) => a + b, 0) / perInstance.length, 2)];
      }),
    );
    const servingCount = (service: Service): number => Math.max(1, run.serving.filter((set) => set.has(service)).length);
    const loginsPerRotation = Object.fromEntries(run.spec.services.map((service) => [service, round((run.logins[service] ?? 0) / (servingCount(service) * rounds), 2)]));
    const s = summarize(steady);
    const w = summarize(rotating);
    const sw = summarize(run.switched.map((x) => x.afterFinishMs));
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
      rotationOverSteadyP99: ratio(w.p99, s.p99),
      phaseMs: round(run.endedAt - run.startedAt, 0),
      switchAfterFinishP50Ms: run.switched.length > 0 ? sw.p50 : null,
      switchAfterFinishMaxMs: run.switched.length > 0 ? sw.max : null,
      ...(run.spec.viaProxy ? { readsDuringPhase: run.proxyReadsInPhase } : {}),
      failedLogins: run.logins,
      failedLoginsPerRotationPerInstance: loginsPerRotation,
      readsPerRotationPerInstance: readsPerRotation,
      byKind: Object.fromEntries(
        Object.entries(byKind).map(([kind, e]) => {
          const ks = summarize(e.steady);
          const kw = summarize(e.rotating);
          const first = summarize(firstAfterSwitchMs[kind] ?? []);
          return [
            kind,
            {
              operations: e.operations,
              failed: e.failed,
              steadyP50Ms: ks.p50,
              steadyP99Ms: ks.p99,
              rotationP50Ms: kw.p50,
              rotationP99Ms: kw.p99,
              rotationOverSteadyP99: ratio(kw.p99, ks.p99),
              firstAfterSwitchP50Ms: first.count > 0 ? first.p50 : null,
              firstAfterSwitchMaxMs: first.count > 0 ? first.max : null,
              failures: e.failures,
            },
          ];
        }),
      ),
    };
  }

  const ALL: readonly Service[] = ['db', 'cache', 'mail'];
  const MIXED: readonly Service[] = [...ALL, 'mysqldb'];
  progress(`ours: ${INSTANCES} app instances (${MYSQL_INSTANCES} with MySQL too), ${PLAN.rounds} rounds of db + cache + mail + mysql single-user rotations`);
  const oursRun = analyse(
    await phase({ label: 'ours', mode: 'ours', mysql: true, rounds: PLAN.rounds, services: MIXED, wait: 'fleet', fleetTimeoutMs: 15_000, randomDelayMaxMs: 0, viaProxy: false, readsFromProxy: false }),
  );
  progress(`ours: ${oursRun.operations} operations, ${oursRun.failed} failed; steady p99 ${oursRun.steadyP99Ms} ms, rotation p99 ${oursRun.rotationP99Ms} ms`);
  progress(`poll-only (${BASELINE_POLL_MS} ms poll, rotations at random points of it): ${INSTANCES} app instances, ${PLAN.baselineRounds} rounds`);
  const baselineRun = analyse(
    await phase({
      label: 'poll',
      mode: 'poll',
      rounds: PLAN.baselineRounds,
      services: ALL,
      // Each round waits for every instance's poll (at most an interval + 10 % jitter after finishSecret), so rotations do not pile up between two polls.
      wait: 'fleet',
      fleetTimeoutMs: 3 * BASELINE_POLL_MS + 2_000,
      randomDelayMaxMs: BASELINE_POLL_MS,
      // Through the proxy only to count the phase's reads (our reads name a stage: forwarded unchanged).
      viaProxy: true,
      readsFromProxy: false,
    }),
  );
  const baselineReads = Object.values(baselineRun.readsDuringPhase ?? {}).reduce((a, b) => a + b, 0);
  progress(`poll-only: ${baselineRun.operations} operations, ${baselineRun.failed} failed; ${baselineReads} reads in ${baselineRun.phaseMs} ms`);
  progress(`pg-only (ours on the peer's work): ${INSTANCES} app instances, pg only, ${PLAN.peerRounds} db rotations`);
  const pgOnlyRun = analyse(
    await phase({ label: 'pg-only', mode: 'ours', kinds: ['pg'], rounds: PLAN.peerRounds, services: ['db'], wait: 'fixed', fleetTimeoutMs: 0, randomDelayMaxMs: 0, viaProxy: true, readsFromProxy: true }),
  );
  progress(`pg-only: ${pgOnlyRun.operations} operations, ${pgOnlyRun.failed} failed; per instance per rotation ${pgOnlyRun.failedLoginsPerRotationPerInstance.db} failed logins, ${pgOnlyRun.readsPerRotationPerInstance.db} reads`);
  progress(`peer (AWS Advanced NodeJS Wrapper, Secrets Manager plugin): ${INSTANCES} app instances, pg only, ${PLAN.peerRounds} db rotations`);
  const peerRun = analyse(await phase({ label: 'peer', mode: 'peer', rounds: PLAN.peerRounds, services: ['db'], wait: 'fixed', fleetTimeoutMs: 0, randomDelayMaxMs: 0, viaProxy: true, readsFromProxy: true }));
  progress(`peer: ${peerRun.operations} operations, ${peerRun.failed} failed; per instance per rotation ${peerRun.failedLoginsPerRotationPerInstance.db} failed logins, ${peerRun.readsPerRotationPerInstance.db} reads`);

  const worst = (record: Record<string, number>): number => Math.max(...Object.values(record));
  const kindRatios = (run: typeof oursRun): Partial<Record<SoakKind, number | null>> =>
    Object.fromEntries(KINDS.filter((kind) => run.byKind[kind] !== undefined).map((kind) => [kind, run.byKind[kind]?.rotationOverSteadyP99 ?? null]));
  writeResult(args.out, {
    scenario: 'soak',
    quick: args.quick,
    date: new Date().toISOString(),
    machine: machine(),
    instances: INSTANCES,
    windowMs: WINDOW_MS,
    pace: PACE,
    soak: {
      rotations: PLAN.rounds * MIXED.length,
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
      rotationOverSteadyP99: oursRun.rotationOverSteadyP99,
      rotationOverSteadyP99ByKind: kindRatios(oursRun),
      // pg and MySQL side by side in the mixed phase (MYSQL_INSTANCES instance(s) run the MySQL loop).
      pgOperations: oursRun.byKind.pg?.operations ?? 0,
      pgFailed: oursRun.byKind.pg?.failed ?? 0,
      mysqlInstances: MYSQL_INSTANCES,
      mysqlOperations: oursRun.byKind.mysql?.operations ?? 0,
      mysqlFailed: oursRun.byKind.mysql?.failed ?? 0,
      smtpPool: SMTP_POOL,
      baselineIntervalMs: BASELINE_POLL_MS,
      baselineRotations: PLAN.baselineRounds * 3,
      baselineOperations: baselineRun.operations,
      baselineFailed: baselineRun.failed,
      baselineReads,
      // Each poll reads every secret once: the db secret's reads are the polls.
      baselinePollsPerInstance: round((baselineRun.readsDuringPhase?.db ?? 0) / INSTANCES, 1),
      baselinePhaseMs: baselineRun.phaseMs,
      pgOnlyOperations: pgOnlyRun.operations,
      pgOnlyFailed: pgOnlyRun.failed,
      pgOnlyRotations: PLAN.peerRounds,
      pgOnlyFailedLoginsPerRotation: worst(pgOnlyRun.failedLoginsPerRotationPerInstance),
      pgOnlyReadsPerRotationPerInstance: worst(pgOnlyRun.readsPerRotationPerInstance),
      peerOperations: peerRun.operations,
      peerFailed: peerRun.failed,
      peerRotations: PLAN.peerRounds,
      peerFailedLoginsPerRotation: worst(peerRun.failedLoginsPerRotationPerInstance),
      peerReadsPerRotationPerInstance: worst(peerRun.readsPerRotationPerInstance),
      // Reads the proxy had to give a stage (all of the peer's, if the plugin still reads without one; ours always name one).
      peerStagelessReads: stageProxy.stagesAdded(),
      ours: oursRun,
      baseline: baselineRun,
      pgOnly: pgOnlyRun,
      peer: peerRun,
    },
  });
  progress(`done: ${args.out}`);
} finally {
  await Promise.allSettled(apps.map((app) => app.stop()));
  await admin?.pg.end().catch(() => undefined);
  await admin?.mysql.end().catch(() => undefined);
  admin?.redis.disconnect();
  await Promise.allSettled([relay?.stop(), stageProxy?.stop(), moto?.stop(), postgres?.stop(), appRedis?.stop(), smtp?.stop(), mariadb?.stop()]);
}
process.exit(0);
