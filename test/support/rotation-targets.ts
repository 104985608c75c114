import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { MotoSecrets, TestSecret } from './moto-secrets.js';
import { startPostgres, type PgHandle } from './postgres.js';
import { startRedis, type RedisHandle } from './redis-server.js';
import { startSmtpServer, type SmtpServerHandle } from './smtp-server.js';

/** The three secrets an app instance holds: its database, its cache and its mail server. */
export type SecretKind = 'db' | 'cache' | 'mail';
export const SECRET_KINDS = ['db', 'cache', 'mail'] as const satisfies readonly SecretKind[];

/** How the server side of each rotation behaves, for display. */
export type RotationMode = 'single-user' | 'overlap' | 'hard-switch';

/** What the caller does around each rotation: deliver its events, wait for the fleet. */
export interface RotationHooks {
  /** The createSecret step put the new version with AWSPENDING (CloudTrail reports a PutSecretValue). */
  pending?(secret: TestSecret, versionId: string): Promise<void>;
  /** The finishSecret step moved AWSCURRENT: deliver the events AWS sends for it. */
  finished(secret: TestSecret, newVersion: string, oldVersion: string): Promise<void>;
  /** Resolves once every app instance holds `versionId` of `kind`. */
  converged(kind: SecretKind, versionId: string): Promise<void>;
}

export interface RotationResult {
  kind: SecretKind;
  mode: RotationMode;
  oldVersion: string;
  newVersion: string;
}

/** Where app instances connect to with the rotating credentials. */
export interface TargetEndpoints {
  pg: { host: string; port: number; database: string };
  redis: { host: string; port: number };
  smtp: { host: string; port: number };
}

export interface RotationTargetsOptions {
  /**
   * How long a database rotation stays between setSecret (the server has the new password) and
   * finishSecret (AWSCURRENT moves): the window no event can close. RDS-managed rotation takes
   * about a minute; here it only has to be long enough for new connections to hit it.
   * @defaultValue 150 ms
   */
  singleUserWindowMs?: number;
}

const password = () => `pw-${randomBytes(12).toString('hex')}`;

/**
 * The servers whose credentials rotate, and the rotations themselves, exactly as a rotation
 * Lambda performs them: a private PostgreSQL (role `app`), a private redis-server with an ACL
 * user `app`, and an in-process SMTP server requiring AUTH as `mailer`; their three secrets in
 * Secrets Manager (moto_server). Shared by the end-to-end test and `npm run demo`.
 *
 * Each rotation: PutSecretValue with AWSPENDING (createSecret), change the password on the
 * server (setSecret), UpdateSecretVersionStage moving AWSCURRENT (finishSecret), then the
 * caller's hooks deliver the events and wait until every instance holds the new version.
 */
export class RotationTargets {
  readonly secrets = {} as Record<SecretKind, TestSecret>;
  private readonly passwords: Record<SecretKind, string> = { db: password(), cache: password(), mail: password() };
  private secretsManager?: MotoSecrets;
  private stopped?: Promise<void>;

  private constructor(
    readonly postgres: PgHandle,
    readonly redis: RedisHandle,
    readonly smtp: SmtpServerHandle,
    private readonly admin: { pg: pg.Client; redis: Redis },
    private readonly windowMs: number,
  ) {}

  /** Starts the three servers (in parallel) and creates their users; stops what started on failure. */
  static async start(options: RotationTargetsOptions = {}): Promise<RotationTargets> {
    const passwords = { cache: password(), mail: password() };
    const started = await Promise.allSettled([
      startPostgres(),
      startRedis({ aclUsers: [{ name: 'app', passwords: [passwords.cache] }] }),
      startSmtpServer({ users: new Map([['mailer', passwords.mail]]) }),
    ] as const);
    const [postgres, redis, smtp] = started;
    if (postgres.status === 'rejected' || redis.status === 'rejected' || smtp.status === 'rejected') {
      await Promise.allSettled(started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.stop()] : [])));
      throw started.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason;
    }
    const admin = {
      pg: new pg.Client({
        host: postgres.value.host,
        port: postgres.value.port,
        user: 'postgres',
        password: postgres.value.superuser.password,
        database: 'postgres',
      }),
      redis: new Redis({ host: '127.0.0.1', port: redis.value.port }),
    };
    const targets = new RotationTargets(postgres.value, redis.value, smtp.value, admin, options.singleUserWindowMs ?? 150);
    Object.assign(targets.passwords, passwords);
    try {
      await admin.pg.connect();
      await admin.pg.query(`CREATE ROLE app LOGIN PASSWORD '${targets.passwords.db}'`);
    } catch (error) {
      await targets.stop();
      throw error;
    }
    return targets;
  }

  /** Creates the three secrets (`<prefix>/db-XXXXXX`, …) holding the servers' current credentials. */
  async createSecrets(secretsManager: MotoSecrets, prefix: string): Promise<Record<SecretKind, TestSecret>> {
    this.secretsManager = secretsManager;
    const suffix = () => randomBytes(3).toString('hex');
    this.secrets.db = await secretsManager.create(
      `${prefix}/db-${suffix()}`,
      JSON.stringify({
        engine: 'postgres',
        host: this.postgres.host,
        port: this.postgres.port,
        dbname: 'postgres',
        username: 'app',
        password: this.passwords.db,
      }),
    );
    this.secrets.cache = await secretsManager.create(`${prefix}/cache-${suffix()}`, JSON.stringify({ username: 'app', password: this.passwords.cache }));
    this.secrets.mail = await secretsManager.create(`${prefix}/mail-${suffix()}`, JSON.stringify({ username: 'mailer', password: this.passwords.mail }));
    return this.secrets;
  }

  endpoints(): TargetEndpoints {
    return {
      pg: { host: this.postgres.host, port: this.postgres.port, database: 'postgres' },
      redis: { host: '127.0.0.1', port: this.redis.port },
      smtp: { host: this.smtp.host, port: this.smtp.port },
    };
  }

  /** The server-side behaviour of rotation number `round` (0-based) of `kind`. */
  static mode(kind: SecretKind, round: number): RotationMode {
    if (kind === 'db') return 'single-user';
    if (kind === 'cache') return round % 2 === 1 ? 'hard-switch' : 'overlap';
    return 'hard-switch';
  }

  rotate(kind: SecretKind, round: number, hooks: RotationHooks): Promise<RotationResult> {
    if (kind === 'db') return this.rotateDb(hooks);
    if (kind === 'cache') return this.rotateCache(round, hooks);
    return this.rotateMail(hooks);
  }

  /** Single-user rotation: the database password changes at setSecret, AWSCURRENT moves later. */
  async rotateDb(hooks: RotationHooks): Promise<RotationResult> {
    const secrets = this.requireSecrets();
    const next = password();
    const oldVersion = this.secrets.db.versionId;
    const value = { ...JSON.parse(this.secrets.db.values.at(-1) ?? '{}'), password: next };
    const pending = await secrets.putPending(this.secrets.db, JSON.stringify(value));
    await hooks.pending?.(this.secrets.db, pending);
    await this.admin.pg.query(`ALTER ROLE app PASSWORD '${next}'`);
    this.passwords.db = next;
    await new Promise((resolve) => setTimeout(resolve, this.windowMs));
    await secrets.moveCurrent(this.secrets.db, pending);
    await hooks.finished(this.secrets.db, pending, oldVersion);
    await hooks.converged('db', pending);
    return { kind: 'db', mode: 'single-user', oldVersion, newVersion: pending };
  }

  /** ElastiCache-style: ROTATE (old and new both valid, old removed once everyone moved) or SET. */
  async rotateCache(round: number, hooks: RotationHooks): Promise<RotationResult> {
    const secrets = this.requireSecrets();
    const previous = this.passwords.cache;
    const next = password();
    const oldVersion = this.secrets.cache.versionId;
    const pending = await secrets.putPending(this.secrets.cache, JSON.stringify({ username: 'app', password: next }));
    await hooks.pending?.(this.secrets.cache, pending);
    const mode = RotationTargets.mode('cache', round);
    if (mode === 'hard-switch') {
      await this.admin.redis.call('ACL', 'SETUSER', 'app', 'resetpass', `>${next}`);
      await this.admin.redis.call('CLIENT', 'KILL', 'USER', 'app');
    } else {
      await this.admin.redis.call('ACL', 'SETUSER', 'app', `>${next}`);
    }
    await secrets.moveCurrent(this.secrets.cache, pending);
    await hooks.finished(this.secrets.cache, pending, oldVersion);
    await hooks.converged('cache', pending);
    if (mode === 'overlap') await this.admin.redis.call('ACL', 'SETUSER', 'app', `<${previous}`);
    this.passwords.cache = next;
    return { kind: 'cache', mode, oldVersion, newVersion: pending };
  }

  /** SES-style hard switch: the server accepts only the new credentials from setSecret on. */
  async rotateMail(hooks: RotationHooks): Promise<RotationResult> {
    const secrets = this.requireSecrets();
    const next = password();
    const oldVersion = this.secrets.mail.versionId;
    const pending = await secrets.putPending(this.secrets.mail, JSON.stringify({ username: 'mailer', password: next }));
    await hooks.pending?.(this.secrets.mail, pending);
    this.smtp.setUsers(new Map([['mailer', next]]));
    this.passwords.mail = next;
    await secrets.moveCurrent(this.secrets.mail, pending);
    await hooks.finished(this.secrets.mail, pending, oldVersion);
    await hooks.converged('mail', pending);
    return { kind: 'mail', mode: 'hard-switch', oldVersion, newVersion: pending };
  }

  /** Closes the admin connections and stops the three servers. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      await this.admin.pg.end().catch(() => undefined);
      this.admin.redis.disconnect();
      await Promise.allSettled([this.postgres.stop(), this.redis.stop(), this.smtp.stop()]);
    })();
    return this.stopped;
  }

  private requireSecrets(): MotoSecrets {
    if (!this.secretsManager) throw new Error('RotationTargets: call createSecrets() before rotating');
    return this.secretsManager;
  }
}
