import type { Redis } from 'ioredis';
import { isRedisAuthError } from '../rotating/index.js';

/**
 * The ioredis internals this module relies on (ioredis 5.x: `Redis.prototype.recoverFromFatalError`
 * and `flushQueue`). Kept in one place, checked at runtime, and covered by the integration tests:
 * if a future ioredis renames them, `installAuthFailureHook` returns false and the adapter falls
 * back to refresh-on-`error` (recovery still happens; commands queued during that one failed
 * login are then rejected, as with plain ioredis).
 */
interface RedisInternals {
  recoverFromFatalError(commandError: Error, err: Error, options?: unknown): void;
  flushQueue(error: Error, options?: { offlineQueue?: boolean; commandQueue?: boolean }): void;
  silentEmit(eventName: string, arg?: unknown): boolean;
  stream?: unknown;
}

/** The credentials a failed login used (from ioredis' public `condition`), to tell a stale attempt apart. */
export interface AttemptedLogin {
  username: string | undefined;
  password: string | undefined;
}

export interface AuthFailureHookOptions {
  /**
   * Called once per failed login with the server's error. Resolves to true when new credentials
   * were put in the client's options (reconnecting is then worth it), false when none were found.
   */
  onAuthFailure(err: Error, attempted: AttemptedLogin | undefined): Promise<boolean>;
  /** Upper bound on waiting for `onAuthFailure` before reconnecting anyway. @defaultValue 10 000 ms */
  maxWaitMs?: number;
}

/**
 * Makes a failed AUTH at (re)connect keep the commands queued meanwhile instead of failing them.
 *
 * Why this hook exists: when AUTH (or the ready check's `NOAUTH`) fails, ioredis calls
 * `recoverFromFatalError`, which rejects *every* queued command with the WRONGPASS error and then
 * reconnects with the same options. Those commands were never sent, so failing them is pure
 * loss, and reconnecting with the same password fails again. Here, for an authentication error on
 * a connection that is still in its handshake (`status === 'connect'`), the offline queue is
 * kept, the caller fetches the new credentials (and writes them into the options), and only then
 * does the connection reconnect; the queued commands go out once the new login succeeds. Every
 * other fatal error keeps ioredis' own behaviour.
 *
 * Only commands written to the socket during the failed handshake (the handshake's own
 * SELECT/CLIENT/INFO, and the rare user command ioredis allows before `ready`, those flagged
 * `loading`) are rejected, as ioredis would.
 */
export function installAuthFailureHook(redis: Redis, options: AuthFailureHookOptions): boolean {
  const internals = redis as unknown as RedisInternals;
  if (typeof internals.recoverFromFatalError !== 'function' || typeof internals.flushQueue !== 'function' || typeof internals.silentEmit !== 'function') {
    return false;
  }
  const original = internals.recoverFromFatalError;
  const maxWaitMs = options.maxWaitMs ?? 10_000;

  internals.recoverFromFatalError = function recoverFromFatalError(this: unknown, commandError: Error, err: Error, opts?: unknown): void {
    if (!isRedisAuthError(err) || redis.status !== 'connect') {
      original.call(redis, commandError, err, opts);
      return;
    }
    // Identify this connection attempt: by the time the refresh resolves, the socket may have
    // closed and ioredis reconnected on its own (with the updated options) — then do nothing.
    const attempt = internals.stream;
    const attempted = attemptedLogin(redis);
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), maxWaitMs);
      timer.unref?.();
    });
    void Promise.race([options.onAuthFailure(err, attempted).catch(() => false), bounded]).then((changed) => {
      clearTimeout(timer);
      if (redis.status !== 'connect' || internals.stream !== attempt) return;
      internals.flushQueue(err, { offlineQueue: false });
      // A recovered failure is not an error for the app; an unrecovered one is, as in ioredis.
      if (!changed) internals.silentEmit('error', err);
      redis.disconnect(true);
    });
  };
  return true;
}

function attemptedLogin(redis: Redis): AttemptedLogin | undefined {
  const auth = redis.condition?.auth;
  if (auth === undefined) return { username: undefined, password: undefined };
  if (typeof auth === 'string') return { username: undefined, password: auth };
  if (Array.isArray(auth)) return { username: auth[0], password: auth[1] };
  return undefined;
}
