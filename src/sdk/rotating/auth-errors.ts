import { someErrorInChain } from '../../common/index.js';

/**
 * "Did the server reject the credentials?" — one classifier per protocol. Rotating clients retry
 * these (refresh, then AWSPENDING) and nothing else: retrying a timeout or a syntax error with
 * another password would only add load and hide the real fault.
 */

/** PostgreSQL SQLSTATEs for a rejected login: invalid_password, invalid_authorization_specification. */
export const PG_AUTH_SQLSTATES: ReadonlySet<string> = new Set(['28P01', '28000']);

/** pg rejects a login at connect time with a DatabaseError carrying the SQLSTATE in `code`. */
export function isPgAuthError(err: unknown): boolean {
  return someErrorInChain(err, (e) => typeof e.code === 'string' && PG_AUTH_SQLSTATES.has(e.code));
}

/**
 * MySQL's "the server rejected the credentials": error 1045, ER_ACCESS_DENIED_ERROR
 * (`Access denied for user 'app'@'10.0.0.5' (using password: YES)`), which MySQL, Aurora MySQL,
 * MariaDB and RDS Proxy answer to a login with a wrong password. Nothing else is retried with
 * other credentials: 1044 (no access to a database) or 1227 (a missing privilege) would fail the
 * same way with any password, and a timeout is not the password's fault.
 */
export const MYSQL_AUTH_ERRNOS: ReadonlySet<number> = new Set([1045]);

/** mysql2 rejects a login with an Error carrying `errno` 1045 and `code` 'ER_ACCESS_DENIED_ERROR'. */
export function isMysqlAuthError(err: unknown): boolean {
  return someErrorInChain(err, (e) => {
    const { errno } = e as { errno?: unknown };
    return (typeof errno === 'number' && MYSQL_AUTH_ERRNOS.has(errno)) || e.code === 'ER_ACCESS_DENIED_ERROR';
  });
}

/** Redis/Valkey: shared with the cache's pub/sub connection (src/redis/auth-errors.ts). */
export { isRedisAuthError } from '../../redis/index.js';

/** SMTP (SES and others): reply 535 (authentication credentials invalid); nodemailer's `EAUTH`. */
export function isSmtpAuthError(err: unknown): boolean {
  return someErrorInChain(err, (e) => e.responseCode === 535 || e.code === 'EAUTH');
}
