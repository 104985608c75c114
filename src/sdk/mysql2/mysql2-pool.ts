import { EventEmitter } from 'node:events';
import { createPool } from 'mysql2/promise';
import type { Pool, PoolConnection, PoolOptions } from 'mysql2/promise';
import { silentLogger, type Logger } from '../../common/index.js';
import type { CredentialSource } from '../cache/index.js';
import { isMysqlAuthError, parsedPerVersion, RotatingResource, validationBackoff, type CredentialMode, type RotatingResourceStats, type ValidateBeforeSwitch } from '../rotating/index.js';
import { mysql2ConnectionFromSecret, type Mysql2Connection } from './mysql2-credentials.js';
import { terminateMysql2Pool } from './mysql2-terminate.js';

/**
 * mysql2's pool options minus what the secret decides (user, password, a connection URI).
 * `host`, `port` and `database`, when given, win over the secret's (an RDS Proxy endpoint, say);
 * everything else goes to each generation's `mysql2.createPool` unchanged, with mysql2's
 * defaults (`connectionLimit` 10, `waitForConnections` true, `queueLimit` 0, `idleTimeout`
 * 60000 ms, `connectTimeout` 10000 ms).
 */
export type RotatingMysql2PoolOptions = Omit<PoolOptions, 'user' | 'password' | 'password1' | 'passwordSha1' | 'uri'> & {
  /** @defaultValue a silent logger */
  logger?: Logger;
  /**
   * On a rotation, open one connection with the new credentials (getConnection, release) before
   * new queries move to them; if the server refuses it, keep the current pool, count it
   * (`rotation.stats.validationFailures`, the cache's `CredentialValidationFailures`) and retry
   * with backoff. The checked connection stays in the new pool for its first query. Turn it on
   * when the server may learn a new password later than Secrets Manager; see
   * docs/operations.md, "Validate before switching". @defaultValue false
   */
  validateBeforeSwitch?: ValidateBeforeSwitch;
};

type PoolEvent = 'connection' | 'acquire' | 'release' | 'enqueue';
const FORWARDED: readonly PoolEvent[] = ['connection', 'acquire', 'release', 'enqueue'];

/** The part of mysql2/promise's Pool API apps use, over a pool that follows a rotating RDS secret. */
export interface RotatingMysql2Pool {
  /** mysql2's `pool.query`, on the current generation; a rejected login is recovered first. */
  query: Pool['query'];
  /** mysql2's `pool.execute` (prepared statements), on the current generation, with the same recovery. */
  execute: Pool['execute'];
  /** A connection of the current generation; `release()` (or `destroy()`) it as usual: its generation drains after that. */
  getConnection(): Promise<PoolConnection>;
  /** Stops following rotations and ends every generation once its checked-out connections are back. */
  end(): Promise<void>;
  /** Forwarded from every generation's pool, retired ones included. */
  on(event: 'connection' | 'acquire' | 'release', listener: (connection: PoolConnection) => void): this;
  on(event: 'enqueue', listener: () => void): this;
  off(event: PoolEvent, listener: (...args: never[]) => void): this;
  escape: Pool['escape'];
  escapeId: Pool['escapeId'];
  format: Pool['format'];
  readonly ended: boolean;
  /** Which credentials new connections use, and the recovery counters (for status pages and tests). */
  readonly rotation: { readonly versionId: string; readonly mode: CredentialMode; readonly user: string; readonly stats: Readonly<RotatingResourceStats> };
}

/**
 * A mysql2 pool whose credentials follow the secret `name` (RDS MySQL format) in `source`.
 *
 * Each credential version gets its own mysql2 pool (a "generation"): a rotation routes new
 * queries and checkouts to a new pool and ends the old one once its checked-out connections are
 * back, so in-flight work is never cut. MySQL keeps a session that logged in with the old password
 * open after `ALTER USER`, so the old generation's connections keep serving their work; only new
 * logins need the new password. A login rejected with 1045 (ER_ACCESS_DENIED_ERROR) goes through
 * RotatingResource's recovery — the SDK's one policy: refresh AWSCURRENT and retry, then
 * AWSPENDING — before the caller sees anything. A query that fails to log in never ran, so
 * retrying it is safe.
 *
 * Unlike pg, mysql2 takes the password as a string, so a pool cannot ask for the newest one at
 * login time: a checkout queued inside a generation's pool (all `connectionLimit` connections
 * busy) that needs a new login during a rotation may cost one more rejected login. It still ends
 * in the recovery and a retry on the new generation, never in an error for the caller.
 */
export function createRotatingMysql2Pool(source: CredentialSource, name: string, options: RotatingMysql2PoolOptions = {}): RotatingMysql2Pool {
  const { logger: given, validateBeforeSwitch, ...poolOptions } = options;
  const validateBackoff = validationBackoff(validateBeforeSwitch);
  const logger: Logger = given ?? silentLogger();
  const events = new EventEmitter();
  const overrides = { host: poolOptions.host, port: poolOptions.port, database: poolOptions.database };
  const connectionOf = parsedPerVersion((value): Mysql2Connection => mysql2ConnectionFromSecret(name, value, overrides));
  let ended = false;

  const rotation = new RotatingResource<Pool>({
    source,
    name,
    logger,
    isAuthError: isMysqlAuthError,
    create(creds) {
      // Parsed once per version: `rotation.user` reads the same parse. createPool connects
      // lazily, so building a generation does no I/O that bad credentials could fail.
      const own = connectionOf(creds);
      const pool = createPool({ ...poolOptions, host: own.host, port: own.port, database: own.database, user: own.user, password: own.password });
      for (const event of FORWARDED) pool.on(event as 'connection', (...args: unknown[]) => events.emit(event, ...args));
      return pool;
    },
    drain: (pool) => pool.end(),
    terminate: async (pool, terminated) => {
      if (!(await terminateMysql2Pool(pool, terminated))) {
        logger.warn({ secretName: name }, 'rotating mysql2 pool: emergency revoke: mysql2 pool internals not found; the revoked pool closes after its queries in flight');
      }
    },
    ...(validateBackoff
      ? {
          validateBackoff,
          validate: async (pool: Pool) => {
            // Released, not destroyed: the new generation's first query reuses this connection.
            const connection = await pool.getConnection();
            connection.release();
          },
        }
      : {}),
  });

  const run = (method: 'query' | 'execute') =>
    ((...args: unknown[]) =>
      rotation.run((pool) => (pool[method] as (...a: unknown[]) => Promise<unknown>).apply(pool, args))) as unknown as Pool['query'];

  const api = {
    query: run('query'),
    execute: run('execute') as unknown as Pool['execute'],
    getConnection(): Promise<PoolConnection> {
      return rotation.run(async (pool, lease) => {
        const connection = await pool.getConnection();
        // The connection belongs to this generation: keep it from draining until it is back,
        // whichever way it goes back (release, destroy, the deprecated end, `await using`).
        const done = lease.retain();
        const release = connection.release.bind(connection);
        const destroy = connection.destroy.bind(connection);
        const end = connection.end.bind(connection);
        connection.release = () => {
          done();
          release();
        };
        connection.destroy = () => {
          done();
          destroy();
        };
        connection.end = (...args: Parameters<PoolConnection['end']>) => {
          done();
          return end(...args);
        };
        return connection;
      });
    },
    async end(): Promise<void> {
      ended = true;
      await rotation.close();
    },
    on(event: PoolEvent, listener: (...args: never[]) => void) {
      events.on(event, listener as (...args: unknown[]) => void);
      return api;
    },
    off(event: PoolEvent, listener: (...args: never[]) => void) {
      events.off(event, listener as (...args: unknown[]) => void);
      return api;
    },
    // Pure string work, the same in every generation: the current one answers.
    escape: ((value: unknown) => rotation.resource.escape(value)) as Pool['escape'],
    escapeId: ((value: string | string[]) => rotation.resource.escapeId(value as string)) as Pool['escapeId'],
    format: ((sql: string, values?: unknown) => rotation.resource.format(sql, values)) as Pool['format'],
    get ended() {
      return ended;
    },
    get rotation() {
      const { versionId, mode } = rotation.credentials;
      return { versionId, mode, user: connectionOf(rotation.credentials).user, stats: rotation.stats };
    },
  };
  return api as RotatingMysql2Pool;
}
