import type { Logger } from '../../common/index.js';
import { readRedisSecret } from '../../redis/index.js';
import { recoverCredentials, type RecoveryCounts } from './auth-recovery.js';
import type { CredentialSource } from './types.js';

// Its own file because the cache's own Redis connection is a rotating client of the cache: it
// authenticates with a secret the cache holds, follows that secret's rotations, and recovers
// from a password Redis no longer accepts. That loop is apart from the listener's wiring.

export interface RedisPasswordFollowerDeps {
  /** `redis.passwordSecret`: the cache's name of the secret holding the listener's password. */
  passwordSecret: string | undefined;
  logger: Logger;
  isRunning: () => boolean;
  /** Whether the cache holds a value of `name`. */
  isHeld: (name: string) => boolean;
  /** The cache: its values and versions, its rate-limited auth-failure refresh, its recovery count. */
  source: Pick<CredentialSource, 'get' | 'current' | 'reportAuthFailure' | 'recordAuthRecovery'>;
  /** Hands a password to the listener's next (re)connect. */
  setPassword: (password: string) => void;
}

/** Keeps the listener's Redis password that of `redis.passwordSecret`. */
export class RedisPasswordFollower {
  private authFailed = false;
  private readonly counts: RecoveryCounts = { reportAuthFailureCalls: 0, pendingReads: 0 };

  constructor(private readonly deps: RedisPasswordFollowerDeps) {}

  /** The password to connect with first; undefined without a password secret. */
  initial(): string | undefined {
    const { passwordSecret } = this.deps;
    return passwordSecret === undefined ? undefined : this.passwordOf(passwordSecret);
  }

  /** A secret rotated: when it is the password secret, the next reconnect uses the new password. */
  onRotated(name: string): void {
    if (name !== this.deps.passwordSecret) return;
    this.hand(name, this.deps.source.get(name));
  }

  /** Subscribed again: after an auth failure, that is a recovery. */
  onSubscribed(): void {
    const { passwordSecret } = this.deps;
    if (this.authFailed && passwordSecret !== undefined) {
      this.authFailed = false;
      this.deps.source.recordAuthRecovery(passwordSecret);
      this.deps.logger.info({ name: passwordSecret }, 'invalidation subscription re-authenticated with the refreshed Redis password');
    }
  }

  /**
   * Redis refused the listener's password (it rotated and a reconnect used the old one). Refresh
   * the password secret — rate-limited like any auth failure, since ioredis retries quickly — and
   * hand the result to the next reconnect. The policy is the rotating clients' one
   * (auth-recovery.ts), without its AWSPENDING step; the retry is ioredis' own reconnect.
   */
  async onAuthFailed(): Promise<void> {
    const { passwordSecret } = this.deps;
    // Without one there is nothing to refresh; the (deduplicated) 'error' log names the WRONGPASS.
    if (passwordSecret === undefined || !this.deps.isRunning() || !this.deps.isHeld(passwordSecret)) return;
    this.authFailed = true;
    const { source, logger } = this.deps;
    const outcome = await recoverCredentials({
      source,
      name: passwordSecret,
      failedVersionId: source.current(passwordSecret).versionId,
      refresh: true,
      // This follower keeps no version or mode (it hands over AWSCURRENT on each rotation), so it
      // could not tell when to leave AWSPENDING: it stays on AWSCURRENT, as it always has.
      awsPending: false,
      // Nothing else moves this connection's credentials during the refresh but onRotated, which
      // hands them over itself.
      movedOn: () => false,
      switchTo: (version) => this.hand(passwordSecret, version.value),
      counts: this.counts,
      logger,
      label: 'invalidation listener',
    });
    // Not the cache's to summarise: the listener link logs it as unexpected, as any failure here.
    if (outcome.kind === 'failed') throw outcome.error;
    // Unchanged: hand the value again anyway. It is idempotent, and when that value is malformed
    // (the reason the logins fail) it says so at each failure.
    if (outcome.kind !== 'switched') this.hand(passwordSecret, source.get(passwordSecret));
    const changed = outcome.sourceChanged;
    // ioredis retries every ≤ 2 s: one warn when the refresh found a new password, debug otherwise.
    this.deps.logger[changed ? 'warn' : 'debug'](
      { name: passwordSecret, changed },
      changed ? 'Redis refused the listener password; refreshed it from Secrets Manager for the next reconnect' : 'Redis refused the listener password; Secrets Manager has no newer one yet',
    );
  }

  /** Gives the listener's next (re)connect the password in `value`, if it has one. */
  private hand(name: string, value: unknown): void {
    const password = this.passwordOf(name, value);
    if (password !== undefined) this.deps.setPassword(password);
  }

  /**
   * The password in the secret, by the rules of the one Redis secret parser (redis/credentials.ts),
   * those of the rotating ioredis client too. The listener's user is the one of `redis.url`.
   */
  private passwordOf(name: string, value: unknown = this.deps.source.get(name)): string | undefined {
    const reading = readRedisSecret(value);
    if (reading.ok) return reading.credentials.password;
    const { field, expected } = reading.problem;
    this.deps.logger.warn(
      { name, code: 'SECRET_SHAPE_INVALID', ...(field !== undefined ? { field } : {}) },
      `secret "${name}" (redis.passwordSecret)${field !== undefined ? ` field "${field}"` : ''}: expected ${expected}; Redis credentials left unchanged`,
    );
    return undefined;
  }
}
