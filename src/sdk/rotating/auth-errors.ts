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

/** Redis/Valkey: shared with the cache's pub/sub connection (src/redis/auth-errors.ts). */
export { isRedisAuthError } from '../../redis/index.js';

/** SMTP (SES and others): reply 535 (authentication credentials invalid); nodemailer's `EAUTH`. */
export function isSmtpAuthError(err: unknown): boolean {
  return someErrorInChain(err, (e) => e.responseCode === 535 || e.code === 'EAUTH');
}
