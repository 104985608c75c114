import type { CredentialSource } from '../cache/index.js';
import { isPgAuthError } from '../rotating/index.js';
import { PgLoginCredentials, type PgLoginCredentialsOptions, type PgLoginStats } from './orm-pg-login.js';
import type { CredentialMode } from '../cache/index.js';

/** The part of Sequelize's connection config that `beforeConnect` receives and fills in. */
export interface SequelizeConnectConfig {
  username?: string;
  password?: string | null;
  host?: string;
  /** Sequelize types it as a string; pg parses either. */
  port?: string | number;
  database?: string;
}

export interface SequelizeCredentialsOptions extends PgLoginCredentialsOptions {
  /**
   * Attempts of one query (or of one `retryRejectedLogin` call) whose login the server rejected,
   * the first included: Sequelize's `retry.max`. 3 covers a rejected AWSCURRENT, then a refreshed
   * one, then AWSPENDING, like the rotating pool. @defaultValue 3
   */
  maxAttempts?: number;
  /**
   * Wait before each retry of a rejected login (Sequelize's `retry.backoffBase`). Why not 0:
   * Sequelize's pool hands a failed login's error to the query that has waited longest, not to the
   * one whose login failed, and it starts logins ahead of demand, so the logins already under way
   * with the old password when the server switched keep failing for a few milliseconds; a retry
   * that waits this long no longer meets them. @defaultValue 100 ms (Sequelize's own default)
   */
  retryDelayMs?: number;
}

/** The retry options Sequelize takes (`new Sequelize({ retry })`), matching only rejected logins. */
export interface SequelizeLoginRetry {
  max: number;
  /** One matcher: an arrow function, which retry-as-promised calls with the error. */
  match: Array<(err: unknown) => boolean>;
  /** `retryDelayMs`, growing by `backoffExponent` per attempt (retry-as-promised). */
  backoffBase: number;
  backoffExponent: number;
}

/** What `sequelizeCredentials` returns: pass `hooks` and `retry` to `new Sequelize(...)`. */
export interface SequelizeCredentials {
  hooks: {
    /** Holds a new checkout while a recovery is in flight, so it does not meet a login that is bound to fail. */
    beforePoolAcquire(): Promise<void>;
    /** Fills in username, password, host, port and database of every new connection. */
    beforeConnect(config: SequelizeConnectConfig): Promise<void>;
    /** Confirms a recovery once a login succeeded with its credentials. */
    afterConnect(): void;
  };
  retry: SequelizeLoginRetry;
  /** True when `err` (or the pg error Sequelize wraps in it) is a rejected login; starts the recovery. */
  isRejectedLogin(err: unknown): boolean;
  /**
   * Runs `fn` again (up to `maxAttempts` in all) when it fails on a rejected login, after the
   * recovery. For what Sequelize does not retry: `sequelize.transaction()` gets its connection
   * outside `retry`. Safe because a rejected login means nothing of `fn`'s work has run on it.
   */
  retryRejectedLogin<T>(fn: () => Promise<T>): Promise<T>;
  /** Which credentials new connections use, and the counters. Never a password. */
  readonly rotation: { readonly versionId: string; readonly mode: CredentialMode; readonly user: string; readonly stats: Readonly<PgLoginStats> };
  /** Stops following rotations (after `sequelize.close()`). */
  close(): void;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Sequelize's ConnectionError keeps pg's error in `parent` (and `original`), not in `cause`. */
function isRejected(err: unknown): boolean {
  if (isPgAuthError(err)) return true;
  const wrapped = err as { parent?: unknown; original?: unknown } | null;
  return typeof wrapped === 'object' && wrapped !== null && (isPgAuthError(wrapped.parent) || isPgAuthError(wrapped.original));
}

/**
 * Sequelize (dialect `postgres`) over the secret `name` (RDS format) of `source`, through its own
 * hooks: Sequelize builds its pg connections itself (its pool, sequelize-pool, creates pg.Client
 * objects) and cannot take the rotating pool.
 *
 * - `hooks.beforeConnect` gives every new connection the credentials of the current version, and
 *   the host, port and database of the secret unless `options` override them. Connections already
 *   open keep their login (PostgreSQL does not end sessions on ALTER ROLE) and retire as
 *   Sequelize's pool recycles them (`pool.idle`, `pool.maxUses`).
 * - A login rejected with 28P01/28000 (a single-user rotation's setSecret → finishSecret window, a
 *   missed invalidation): Sequelize's own query retry calls the `retry.match` matcher, which starts
 *   the recovery (the cache's `reportAuthFailure`, then AWSPENDING); the retry waits
 *   `retryDelayMs`, its `beforePoolAcquire` and `beforeConnect` wait for the recovery, and it logs
 *   in with what the recovery found. The caller sees nothing. When no
 *   credential works, the query fails after `maxAttempts` logins with Sequelize's ConnectionError
 *   (its `parent.code` is 28P01): no retry loop.
 * - `sequelize.transaction()` is not retried by Sequelize: wrap it in `retryRejectedLogin`.
 *
 * `source` must be started (the current version is read at once).
 */
export function sequelizeCredentials(source: CredentialSource, name: string, options: SequelizeCredentialsOptions = {}): SequelizeCredentials {
  const { maxAttempts = 3, retryDelayMs = 100, ...loginOptions } = options;
  const login = new PgLoginCredentials(source, name, loginOptions);
  const isRejectedLogin = (err: unknown): boolean => {
    if (!isRejected(err)) return false;
    void login.rejected(); // never rejects; the retried login waits for it in beforeConnect
    return true;
  };
  return {
    hooks: {
      beforePoolAcquire: () => login.whenRecovered(),
      async beforeConnect(config) {
        const next = await login.next();
        config.username = next.user;
        config.password = next.password;
        config.host = next.host;
        config.port = String(next.port);
        config.database = next.database;
      },
      afterConnect() {
        login.succeeded();
      },
    },
    // retry-as-promised calls a matcher that is a function only after `err instanceof matcher`
    // threw, which it does for an arrow function (no prototype): keep this one an arrow.
    retry: { max: maxAttempts, match: [(err: unknown) => isRejectedLogin(err)], backoffBase: retryDelayMs, backoffExponent: 1.1 },
    isRejectedLogin,
    async retryRejectedLogin<T>(fn: () => Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await fn();
        } catch (err) {
          if (attempt >= maxAttempts || !isRejected(err)) throw err;
          await Promise.all([login.rejected(), delay(retryDelayMs * 1.1 ** (attempt - 1))]);
        }
      }
    },
    get rotation() {
      const { versionId, mode, user } = login.current;
      return { versionId, mode, user, stats: login.stats };
    },
    close() {
      login.close();
    },
  };
}
