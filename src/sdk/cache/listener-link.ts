import type { Invalidation } from '../../protocol/index.js';
import { ClockSkewMonitor } from './clock-skew.js';
import { InvalidationListener, listenerTimingsFor } from './invalidation-listener.js';
import { ListenerErrorLog } from './listener-error-log.js';
import { logUnexpected } from './log-unexpected.js';
import type { ResolvedCacheOptions } from './options.js';
import { RedisPasswordFollower, type RedisPasswordFollowerDeps } from './redis-password-follower.js';
import { RejectionLog } from './rejection-log.js';
import type { CacheCounts, CredentialCacheOptions } from './types.js';

// Its own file because the cache's tie to Redis pub/sub — building the listener, what each of
// its events means to the cache, its logs, its own password — is one concern, and the cache
// should read as the list of its parts rather than as the wiring of one of them.

export interface ListenerLinkDeps {
  redis: NonNullable<CredentialCacheOptions['redis']>;
  options: ResolvedCacheOptions;
  counts: CacheCounts;
  /** A verified invalidation arrived (the refresh queue). */
  onInvalidation: (invalidation: Invalidation) => void;
  /** Presence should report (debounced by presence). */
  ack: () => void;
  /** Emits the cache's own event. */
  emit: (event: 'subscribed' | 'disconnected') => void;
  /** Starts a reconcile (the reconciler coalesces overlapping ones). */
  reconcile: () => void;
  /** What following the listener's own password needs from the cache. */
  password: Pick<RedisPasswordFollowerDeps, 'isRunning' | 'isHeld' | 'source'>;
}

/** The cache's invalidation listener, its event handling, and its own Redis password. */
export class ListenerLink {
  private current: InvalidationListener | undefined;
  private subscribed: Promise<void> | undefined;
  /** Summarises rejected invalidations; flushed at stop so the last interval's counts are kept. */
  private rejections: RejectionLog | undefined;
  private readonly errors: ListenerErrorLog;
  private readonly password: RedisPasswordFollower;

  constructor(private readonly deps: ListenerLinkDeps) {
    this.errors = new ListenerErrorLog(deps.options.logger);
    this.password = new RedisPasswordFollower({
      ...deps.password,
      passwordSecret: deps.redis.passwordSecret,
      logger: deps.options.logger,
      setPassword: (password) => this.current?.setPassword(password),
    });
  }

  /** The listener, once `start()` built it. */
  get listener(): InvalidationListener | undefined {
    return this.current;
  }

  get connected(): boolean {
    return this.current?.connected ?? false;
  }

  /** Only reachable through the allowUnsigned opt-in (resolveCacheOptions refuses it otherwise). */
  warnIfUnsigned(): void {
    if (this.deps.options.signingKeys.length > 0) return;
    this.deps.options.logger.warn(
      { code: 'UNSIGNED_MODE' },
      'signing is off (allowUnsigned: true, no signingKeys): invalidations are accepted unverified, so anyone who can publish on the Redis channel can make this instance re-read its secrets; give it the worker\'s signingKeys',
    );
  }

  /** Builds the listener (with the password secret's value, already loaded) and subscribes. */
  start(): void {
    const { redis, options, counts } = this.deps;
    const password = this.password.initial();
    const listener = new InvalidationListener({
      redis,
      signingKeys: options.signingKeys,
      maxAgeMs: options.maxAgeMs,
      clockSkewToleranceMs: options.clockSkewToleranceMs,
      // The cache's clock judges messages too: one notion of "now" per cache (and a testable one).
      now: options.now,
      connectionName: listenerConnectionName(options.presence?.instanceId),
      // Bounds follow the heartbeat: a dead connection is noticed, and a healed one back, within about one.
      ...listenerTimingsFor(options.presence?.heartbeatIntervalMs),
      ...(password !== undefined ? { password } : {}),
    });
    this.current = listener;
    listener.on('invalidation', (invalidation) => this.deps.onInvalidation(invalidation));
    const { logger, metrics, clockSkewToleranceMs, maxAgeMs } = options;
    const rejections = new RejectionLog({ logger, metrics });
    this.rejections = rejections;
    const clockSkew = new ClockSkewMonitor({ logger, metrics, clockSkewToleranceMs, maxAgeMs });
    listener.on('rejected', (rejection) => {
      counts.invalidationsRejected += 1;
      // Summarised, not one line each: whoever can publish decides how many there are.
      rejections.record(rejection);
      clockSkew.observe(rejection);
    });
    listener.on('subscribed', () => this.onSubscribed());
    listener.on('disconnected', () => {
      this.deps.ack();
      logger.warn('invalidation subscription lost; reconnecting (the poll covers meanwhile)');
      this.deps.emit('disconnected');
    });
    listener.on('auth-failed', () => {
      this.password.onAuthFailed().catch((error: unknown) => logUnexpected(logger, 'redis auth-failure handling', error));
    });
    listener.on('error', (error) => this.errors.report(error));
    const subscribed = listener.start();
    subscribed.catch(() => undefined); // stop() before the first subscription
    this.subscribed = subscribed;
  }

  /** Warns when the first subscription is not active within `ms` (start() does not wait longer). */
  async warnUnlessSubscribedWithin(ms: number): Promise<void> {
    if (this.subscribed && !(await settlesWithin(this.subscribed, ms))) {
      this.deps.options.logger.warn(
        { waitedMs: ms },
        'invalidation subscription not active yet; keeps connecting in the background, the poll covers meanwhile',
      );
    }
  }

  /** A secret rotated; the listener follows its password secret. */
  onRotated(name: string): void {
    if (this.current) this.password.onRotated(name);
  }

  async stop(): Promise<void> {
    await this.current?.stop();
    this.rejections?.close();
  }

  private onSubscribed(): void {
    this.errors.reset();
    this.password.onSubscribed();
    this.deps.options.logger.debug('invalidation subscription active; reconciling');
    this.deps.ack();
    this.deps.emit('subscribed');
    this.deps.reconcile();
  }
}

/**
 * `rotation-relay:listener:<instanceId>`: `status` and `wait-converged` match subscriber
 * connections in `CLIENT LIST` to presence entries by this name, which is how a subscriber that
 * cannot write presence is found. CLIENT SETNAME takes only `!`…`~`, so an id with other
 * characters (allowed in presence) leaves the name without it.
 */
export function listenerConnectionName(instanceId: string | undefined): string {
  const base = 'rotation-relay:listener';
  return instanceId !== undefined && /^[\x21-\x7e]+$/.test(instanceId) ? `${base}:${instanceId}` : base;
}

/** True when `promise` resolves within `ms`; false on timeout or rejection. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise.then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
