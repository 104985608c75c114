import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { PoolClient, PoolConfig, QueryArrayConfig, QueryArrayResult, QueryConfig, QueryConfigValues, QueryResult, QueryResultRow } from 'pg';
import { silentLogger, type Logger } from '../../common/index.js';
import type { CredentialSource } from '../cache/index.js';
import { isPgAuthError, parsedPerVersion, RotatingResource, errorSummary, validationBackoff, type CredentialMode, type RotatingResourceStats, type ValidateBeforeSwitch } from '../rotating/index.js';
import { pgConnectionFromSecret, type PgConnection } from './pg-credentials.js';
import { terminatePgPool } from './pg-terminate.js';

/** pg.Pool options minus what the secret decides (user, password, connection string). */
export type RotatingPgPoolOptions = Omit<PoolConfig, 'user' | 'password' | 'connectionString'> & {
  /** @defaultValue a silent logger */
  logger?: Logger;
  /**
   * On a rotation, open one connection with the new credentials (connect, release) before new
   * queries move to them; if the server refuses it, keep the current pool, count it
   * (`rotation.stats.validationFailures`, the cache's `CredentialValidationFailures`) and retry
   * with backoff. The checked connection stays in the new pool for its first query. Turn it on
   * when the server may learn a new password later than Secrets Manager; see
   * docs/operations.md, "Validate before switching". @defaultValue false
   */
  validateBeforeSwitch?: ValidateBeforeSwitch;
};

type PoolEvent = 'error' | 'release' | 'connect' | 'acquire' | 'remove';
const FORWARDED: readonly PoolEvent[] = ['error', 'release', 'connect', 'acquire', 'remove'];

/* eslint-disable @typescript-eslint/no-explicit-any -- the generics mirror @types/pg's Pool.query */
export interface RotatingPgQuery {
  <R extends any[] = any[], I = any[]>(queryConfig: QueryArrayConfig<I>, values?: QueryConfigValues<I>): Promise<QueryArrayResult<R>>;
  <R extends QueryResultRow = any, I = any[]>(queryConfig: QueryConfig<I>): Promise<QueryResult<R>>;
  <R extends QueryResultRow = any, I = any[]>(queryTextOrConfig: string | QueryConfig<I>, values?: QueryConfigValues<I>): Promise<QueryResult<R>>;
  <R extends any[] = any[], I = any[]>(queryConfig: QueryArrayConfig<I>, callback: (err: Error, result: QueryArrayResult<R>) => void): void;
  <R extends QueryResultRow = any, I = any[]>(queryTextOrConfig: string | QueryConfig<I>, callback: (err: Error, result: QueryResult<R>) => void): void;
  <R extends QueryResultRow = any, I = any[]>(queryText: string, values: QueryConfigValues<I>, callback: (err: Error, result: QueryResult<R>) => void): void;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The part of pg.Pool's API apps use, over a pool that follows a rotating RDS secret. */
export interface RotatingPgPool {
  query: RotatingPgQuery;
  /** A client of the current generation; release it as usual (its generation drains after that). */
  connect(): Promise<PoolClient>;
  end(): Promise<void>;
  /** Forwarded from every generation's pool, retired ones included. */
  on(event: 'error' | 'release', listener: (err: Error, client: PoolClient) => void): this;
  on(event: 'connect' | 'acquire' | 'remove', listener: (client: PoolClient) => void): this;
  off(event: PoolEvent, listener: (...args: never[]) => void): this;
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  readonly ended: boolean;
  /** Which credentials new connections use, and the recovery counters (for status pages and tests). */
  readonly rotation: { readonly versionId: string; readonly mode: CredentialMode; readonly user: string; readonly stats: Readonly<RotatingResourceStats> };
}

/**
 * A pg pool whose credentials follow the secret `name` (RDS format) in `source`.
 *
 * Each credential version gets its own pg.Pool (a "generation"): a rotation routes new queries and
 * checkouts to a new pool and ends the old one once its checked-out clients are back, so in-flight
 * work is never cut. A login rejected with 28P01/28000 goes through RotatingResource's recovery
 * (refresh, then AWSPENDING) before the caller sees anything.
 *
 * The password is a function, not a string, for the logins queued in an old pool while a recovery
 * is in flight: pg-pool opens a connection per waiting checkout, and each would fail with the
 * stale password. The function waits for the recovery and then answers with the newest password
 * known for this pool's user, so a rotation costs about one failed login, not one per waiter.
 */
export function createRotatingPgPool(source: CredentialSource, name: string, options: RotatingPgPoolOptions = {}): RotatingPgPool {
  const { logger: given, validateBeforeSwitch, ...poolOptions } = options;
  const validateBackoff = validationBackoff(validateBeforeSwitch);
  const logger: Logger = given ?? silentLogger();
  const events = new EventEmitter();
  const overrides = { host: poolOptions.host, port: poolOptions.port, database: poolOptions.database };
  const connectionOf = parsedPerVersion((value): PgConnection => pgConnectionFromSecret(name, value, overrides));
  let ended = false;

  const rotation: RotatingResource<pg.Pool> = new RotatingResource<pg.Pool>({
    source,
    name,
    logger,
    isAuthError: isPgAuthError,
    create(creds) {
      // Parsed once per version: `rotation.user` and the password function read the same parse.
      const own = connectionOf(creds);
      const pool = new pg.Pool({
        ...poolOptions,
        host: own.host,
        port: own.port,
        database: own.database,
        user: own.user,
        password: async () => {
          // The check of a new generation logs in with exactly its own credentials.
          if (rotation.isValidating(pool)) return own.password;
          await rotation.whenRecovered();
          const latest = connectionOf(rotation.credentials);
          return latest.user === own.user ? latest.password : own.password;
        },
      });
      for (const event of FORWARDED) {
        pool.on(event, (...args: unknown[]) => {
          // An unhandled pool 'error' would crash the app (EventEmitter semantics), and a retired
          // generation's idle client can still emit one: log it when nobody listens.
          if (event === 'error' && events.listenerCount('error') === 0) {
            logger.warn({ secretName: name, err: errorSummary(args[0]) }, 'rotating pg pool: idle client error');
            return;
          }
          events.emit(event, ...args);
        });
      }
      return pool;
    },
    drain: (pool) => pool.end(),
    terminate: async (pool, terminated) => {
      if (!(await terminatePgPool(pool, terminated))) {
        logger.warn({ secretName: name }, 'rotating pg pool: emergency revoke: pg-pool internals not found; the revoked pool closes after its checked-out clients are released');
      }
    },
    ...(validateBackoff
      ? {
          validateBackoff,
          validate: async (pool: pg.Pool) => {
            // Released, not ended: the new generation's first query reuses this connection.
            const client = await pool.connect();
            client.release();
          },
        }
      : {}),
  });

  function query(...args: unknown[]): Promise<unknown> | undefined {
    const callback = typeof args.at(-1) === 'function' ? (args.pop() as (err: unknown, result?: unknown) => void) : undefined;
    const [textOrConfig, values] = args as [string | QueryConfig, unknown[] | undefined];
    const promise = rotation.run((pool) => pool.query(textOrConfig, values));
    if (!callback) return promise;
    promise.then((result) => callback(undefined, result), (err: unknown) => callback(err));
    return undefined;
  }

  const api = {
    query: query as RotatingPgQuery,
    connect(): Promise<PoolClient> {
      return rotation.run(async (pool, lease) => {
        const client = await pool.connect();
        // The client belongs to this generation: keep it from draining until the client is back.
        const done = lease.retain();
        const release = client.release.bind(client);
        client.release = (err?: Error | boolean) => {
          done();
          return release(err);
        };
        return client;
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
    get totalCount() {
      return rotation.resource.totalCount;
    },
    get idleCount() {
      return rotation.resource.idleCount;
    },
    get waitingCount() {
      return rotation.resource.waitingCount;
    },
    get ended() {
      return ended;
    },
    get rotation() {
      const { versionId, mode } = rotation.credentials;
      return { versionId, mode, user: connectionOf(rotation.credentials).user, stats: rotation.stats };
    },
  };
  return api as RotatingPgPool;
}
