import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { expect } from 'vitest';
import type { Logger } from '../../src/common/index.js';
import { registerSecretValue } from './leak-guard.js';
import { captureLogger } from './log-capture.js';
import { startLoadLoop, type LoadLoop, type LoadResult } from './load-loop.js';
import type { TestSecret } from './moto-secrets.js';
import { startPostgres, type PgHandle } from './postgres.js';
import { RelayFixture } from './relay-fixture.js';
import { rotationEvents } from './rotation-events.js';
import { instance, type Instance } from './subscribed-cache.js';
import { waitUntil } from './wait-until.js';

/** The cache's logical name of the database secret in every ORM test. */
export const ORM_SECRET = 'db';
/** The role whose password rotates; it owns the database the ORM works in. */
export const ORM_ROLE = 'orm_app';
export const ORM_DATABASE = 'orm_app';

/**
 * pg pool options for the ORM tests: maxUses 1 makes every query a new login, so a dead password
 * is noticed at once (the pg client test explains why max exceeds the number of load loops).
 */
export const CHURN = { max: 8, idleTimeoutMillis: 1, maxUses: 1 } as const;

/** Rotations in each ORM's load test: more than one, so a client that survives only the first fails. */
export const ORM_ROTATIONS = 4;

/** The ORM work of one test's load (see {@link OrmRotationHarness.startOrmLoad}). */
export interface OrmWork {
  /** A transaction of two or more statements: the backend pid each statement ran on. */
  transaction(loop: number, i: number): Promise<ReadonlyArray<number | undefined>>;
  /** An insert and a read back of what it wrote; throws when the read does not match. */
  operation(loop: number, i: number): Promise<void>;
}

/** A load of ORM work that also counts the transactions that held on one connection. */
export interface OrmLoad extends LoadLoop {
  transactions(): number;
}

export interface OrmLoadResult extends LoadResult {
  transactions: number;
}

/** The part of the client under test (a rotating pool, Sequelize's credentials) a rotation settles on. */
export interface RotatingClientView {
  readonly rotation: { readonly versionId: string; readonly mode: string };
}

/** The client's own counters the closing assertions check (`unrecovered` where the client keeps one). */
export interface OrmRecoveryCounts {
  rejectedLogins: number;
  recoveries: number;
  unrecovered?: number;
}

export interface OrmRotation {
  versionId: string;
  /** Operations the load completed between setSecret and finishSecret: the window no event can close. */
  queriesInWindow: number;
  /** createSecret → the cache (and `settled`) on the new version. */
  ms: number;
}

/** The closing line of an ORM test: the figures the report quotes. */
export interface OrmReport {
  orm: string;
  /** ORM operations the load completed (an insert and a read, or a 3-statement transaction). */
  operations: number;
  failed: number;
  rotations: number;
  rejectedLogins: number;
  recoveries: number;
  p99Ms: number;
  maxMs: number;
  testMs: number;
}

const newPassword = (): string => `pw-${randomBytes(12).toString('base64url')}`;

/**
 * Real single-user rotations of a real PostgreSQL role for the ORM tests, the way production gets
 * them: a private PostgreSQL (scram-sha-256, so a stale password really fails with 28P01), the
 * secret in Secrets Manager (moto_server), the real worker turning the rotation's events (SQS,
 * fauxqs) into signed invalidations on a private Redis, and a real CredentialCache subscribed to
 * them. One per test file.
 */
export class OrmRotationHarness {
  readonly rotations: OrmRotation[] = [];
  private readonly passwords: string[] = [];

  private constructor(
    readonly relay: RelayFixture,
    readonly postgres: PgHandle,
    private readonly admin: pg.Client,
    readonly secret: TestSecret,
    readonly app: Instance,
    firstPassword: string,
  ) {
    this.passwords.push(firstPassword);
  }

  /** Starts everything (the servers in parallel); stops what started if a step fails. */
  static async start(): Promise<OrmRotationHarness> {
    const started = await Promise.allSettled([RelayFixture.start(), startPostgres()] as const);
    const [fixture, server] = started;
    if (fixture.status === 'rejected' || server.status === 'rejected') {
      await Promise.allSettled(started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.stop()] : [])));
      throw started.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason;
    }
    const relay = fixture.value;
    const postgres = server.value;
    const admin = new pg.Client({ host: postgres.host, port: postgres.port, user: 'postgres', password: postgres.superuser.password, database: 'postgres' });
    try {
      await relay.startWorker();
      await admin.connect();
      const password = newPassword();
      await admin.query(`CREATE ROLE ${ORM_ROLE} LOGIN PASSWORD '${password}'`);
      await admin.query(`CREATE DATABASE ${ORM_DATABASE} OWNER ${ORM_ROLE}`);
      const secret = await relay.secrets.create(`app/orm-db-${randomBytes(3).toString('hex')}`, OrmRotationHarness.value(postgres, password));
      relay.created.push(secret);
      const app = instance(relay, { secrets: { [ORM_SECRET]: { secretId: secret.arn, json: true } } });
      await app.cache.start();
      await waitUntil(() => app.cache.status().pubsub.connected, { message: 'the cache subscribed to invalidations' });
      return new OrmRotationHarness(relay, postgres, admin, secret, app, password);
    } catch (err) {
      await admin.end().catch(() => undefined);
      await Promise.allSettled([relay.stop(), postgres.stop()]);
      throw err;
    }
  }

  /** The RDS secret format, as RDS-managed secrets and the rotation functions store it. */
  private static value(postgres: PgHandle, password: string): string {
    return JSON.stringify({ engine: 'postgres', host: postgres.host, port: postgres.port, username: ORM_ROLE, password, dbname: ORM_DATABASE });
  }

  get cache(): Instance['cache'] {
    return this.app.cache;
  }

  /** A logger for the client under test: its lines reach the secret-leak guard. */
  logger(label: string): Logger {
    return captureLogger({ test: label }).logger;
  }

  /**
   * The first two steps of a single-user rotation, as the rotation Lambda does them: createSecret
   * (PutSecretValue AWSPENDING) and setSecret (ALTER ROLE: new logins with the AWSCURRENT password
   * fail from here). `finish()` is finishSecret (UpdateSecretVersionStage AWSCURRENT) and the
   * events AWS sends for it, through SQS and the worker to the cache; it resolves once the cache
   * holds the new version and `settled` (the client under test on it) holds.
   */
  async startRotation(): Promise<{ pending: string; finish(settled?: () => boolean): Promise<void> }> {
    const password = newPassword();
    const oldVersion = this.secret.versionId;
    const pending = await this.relay.secrets.putPending(this.secret, OrmRotationHarness.value(this.postgres, password));
    await this.admin.query(`ALTER ROLE ${ORM_ROLE} PASSWORD '${password}'`);
    this.passwords.push(password);
    return {
      pending,
      finish: async (settled = () => true) => {
        await this.relay.secrets.moveCurrent(this.secret, pending);
        for (const event of rotationEvents(this.secret.arn, pending, oldVersion)) await this.relay.send(event);
        await waitUntil(() => this.cache.current(ORM_SECRET).versionId === pending && settled(), { message: `the cache and the client on ${pending}`, timeoutMs: 15_000 });
      },
    };
  }

  /**
   * One whole single-user rotation under `load`: `startRotation()`, then `windowQueries`
   * operations of the load inside the window no event can close, then `finish(settled)`.
   */
  async rotate(load: LoadLoop, options: { windowQueries?: number; settled?: () => boolean } = {}): Promise<OrmRotation> {
    const { windowQueries = 30, settled } = options;
    const from = performance.now();
    const rotation = await this.startRotation();
    const inWindow = load.completed();
    await waitUntil(() => load.completed() >= inWindow + windowQueries, { message: `${windowQueries} operations inside the rotation window`, timeoutMs: 20_000 });
    const queriesInWindow = load.completed() - inWindow;
    await rotation.finish(settled);
    const record = { versionId: rotation.pending, queriesInWindow, ms: Math.round(performance.now() - from) };
    this.rotations.push(record);
    return record;
  }

  /**
   * Each operation is real ORM work on a new login: an insert and a read back, and every 5th one a
   * transaction whose statements must all see one backend (a failed check is a failed operation).
   * Three loops; resolves once 50 operations ran, so the first rotation meets a running load.
   */
  async startOrmLoad(work: OrmWork): Promise<OrmLoad> {
    let transactions = 0;
    const load = startLoadLoop(async (loop, i) => {
      if (i % 5 !== 4) return work.operation(loop, i);
      const pids = await work.transaction(loop, i);
      if (pids.some((pid) => pid !== pids[0])) throw new Error(`a transaction ran on two backends: ${pids.join(' and ')}`);
      transactions += 1;
    }, 3);
    await waitUntil(() => load.completed() >= 50, { message: '50 operations before the first rotation' });
    return { ...load, transactions: () => transactions };
  }

  /**
   * {@link ORM_ROTATIONS} whole rotations under `load` (see {@link rotate}), each settled once
   * `client` is on the secret's new version in mode current, with at least 30 operations inside
   * each window and 20 more on the new password after it; then stops the load.
   */
  async rotateUnderLoad(load: OrmLoad, client: RotatingClientView): Promise<OrmLoadResult> {
    for (let i = 0; i < ORM_ROTATIONS; i += 1) {
      const rotation = await this.rotate(load, { settled: () => client.rotation.versionId === this.secret.versionId && client.rotation.mode === 'current' });
      expect(rotation.queriesInWindow).toBeGreaterThanOrEqual(30);
      const after = load.completed();
      await waitUntil(() => load.completed() >= after + 20, { message: '20 operations on the new password' });
    }
    const result = await load.stop();
    return { ...result, transactions: load.transactions() };
  }

  /**
   * The closing checks of an ORM load test, after {@link report}: no operation failed, more
   * transactions held on one connection than there were rotations, the windows really rejected
   * logins (the test would prove nothing otherwise) and every one was recovered, and every old
   * password is dead on the server (28P01).
   */
  async expectRotationsSurvived(orm: string, result: OrmLoadResult, counts: OrmRecoveryCounts, testMs: number): Promise<void> {
    const { rejectedLogins, recoveries, unrecovered } = counts;
    this.report(orm, result, { rejectedLogins, recoveries }, testMs);
    expect(result.failures).toEqual([]);
    expect(result.transactions).toBeGreaterThan(ORM_ROTATIONS);
    expect(rejectedLogins).toBeGreaterThanOrEqual(ORM_ROTATIONS);
    expect(recoveries).toBeGreaterThanOrEqual(ORM_ROTATIONS);
    if (unrecovered !== undefined) expect(unrecovered).toBe(0);
    expect(await this.oldPasswordCodes()).toEqual(Array(ORM_ROTATIONS).fill('28P01'));
  }

  /** setSecret with a password no version of the secret holds: every credential is wrong from here. */
  async breakPassword(): Promise<void> {
    const password = newPassword();
    registerSecretValue(password, 'OrmRotationHarness unknown password');
    await this.admin.query(`ALTER ROLE ${ORM_ROLE} PASSWORD '${password}'`);
  }

  /** Logs in with every password the role had before the current one: the codes the server answered. */
  async oldPasswordCodes(): Promise<string[]> {
    const codes: string[] = [];
    for (const password of this.passwords.slice(0, -1)) {
      const client = new pg.Client({ host: this.postgres.host, port: this.postgres.port, user: ORM_ROLE, password, database: ORM_DATABASE });
      codes.push(await client.connect().then(
        async () => {
          await client.end();
          return 'accepted';
        },
        (err: unknown) => String((err as { code?: unknown }).code),
      ));
    }
    return codes;
  }

  /** Sessions the role has open, from pg_stat_activity. */
  async sessions(): Promise<number> {
    const { rows } = await this.admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [ORM_ROLE]);
    return rows[0]?.n ?? 0;
  }

  /** Prints the figures of one ORM test (the report quotes them) and returns them. */
  report(orm: string, result: LoadResult, counts: { rejectedLogins: number; recoveries: number }, testMs: number): OrmReport {
    const line: OrmReport = {
      orm,
      operations: result.operations,
      failed: result.failures.length,
      rotations: this.rotations.length,
      ...counts,
      p99Ms: Math.round(result.p99LatencyMs),
      maxMs: Math.round(result.maxLatencyMs),
      testMs: Math.round(testMs),
    };
    console.log(`orm rotation numbers: ${JSON.stringify({ ...line, perRotation: this.rotations.map(({ queriesInWindow, ms }) => ({ queriesInWindow, ms })) })}`);
    return line;
  }

  async stop(): Promise<void> {
    await this.app.cache.stop().catch(() => undefined);
    await this.admin.end().catch(() => undefined);
    await Promise.allSettled([this.relay.stop(), this.postgres.stop()]);
  }
}
