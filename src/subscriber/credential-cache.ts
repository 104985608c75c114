import { EventEmitter } from 'node:events';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MetricNames } from '../metrics/index.js';
import type { Invalidation } from '../protocol/index.js';
import { SecretsManagerUnavailableError } from '../secrets/errors.js';
import { SDK_CLIENT_SETTINGS } from '../secrets/client.js';
import { backoffDelay } from './backoff.js';
import { ClockSkewMonitor } from './clock-skew.js';
import { ENV_FALLBACK_VERSION_ID, readEnvFallback } from './env-fallback.js';
import { CacheNotStartedError, CacheStoppedError, SecretUnavailableAtStartError, UnknownSecretError } from './errors.js';
import { InvalidationListener, listenerTimingsFor } from './invalidation-listener.js';
import { refreshLimitsFrom, resolveCacheOptions, type ResolvedCacheOptions } from './options.js';
import { readPending } from './pending.js';
import { PollScheduler } from './poll-scheduler.js';
import { PresenceWriter } from './presence.js';
import { LostStateRecovery, planReconcile } from './reconcile.js';
import { redisPasswordFrom } from './redis-password.js';
import { Refresher } from './refresher.js';
import { RejectionLog } from './rejection-log.js';
import { safeMessage, SecretState } from './secret-state.js';
import type { CacheCounts, CacheStatus, CredentialCacheOptions, CredentialSource, CredentialVersion, RotatedEvent } from './types.js';

/** Settings of the Secrets Manager client the cache builds when none is injected (see SDK_CLIENT_SETTINGS). */
export const SECRETS_CLIENT_SETTINGS = SDK_CLIENT_SETTINGS;

/** Events of a `CredentialCache`. */
export interface CredentialCacheEvents {
  /** A secret now has a new version in place (not emitted for the first load at start). */
  rotated: [RotatedEvent];
  /** The invalidation subscription is (again) active; a reconcile runs right after. */
  subscribed: [];
  /** The invalidation subscription was lost; ioredis reconnects, the poll covers meanwhile. */
  disconnected: [];
}

/**
 * Holds the current value of every configured secret and keeps it current: pushed invalidations
 * (Redis pub/sub, reconciled from `{P}:versions` on every (re)subscribe), a jittered fallback poll,
 * clients' authentication failures, and `forceRefresh()`. One change costs one GetSecretValue per
 * instance. Values never appear in `status()`, events, errors or logs.
 */
export class CredentialCache extends EventEmitter<CredentialCacheEvents> implements CredentialSource {
  private readonly options: ResolvedCacheOptions;
  private readonly states = new Map<string, SecretState>();
  private readonly client: SecretsManagerClient;
  private readonly ownsClient: boolean;
  private readonly refresher: Refresher;
  private readonly poll: PollScheduler;
  private readonly lostState: LostStateRecovery;
  private readonly counts: CacheCounts = {
    refreshes: 0,
    failures: 0,
    authRecoveries: 0,
    missedByEvents: 0,
    invalidationsReceived: 0,
    invalidationsRejected: 0,
  };
  private listener: InvalidationListener | undefined;
  /** Summarises rejected invalidations; flushed at stop so the last interval's counts are kept. */
  private rejections: RejectionLog | undefined;
  /** Fleet presence and acks (docs/protocol.md); undefined when off. */
  private presence: PresenceWriter | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Loops, retries and reconciles run while this is true (from start() until stop()). */
  private active = false;
  private started = false;
  private initialLoad: Promise<unknown> | undefined;
  private lastInvalidation: { at: number; secretName: string; versionId?: string } | undefined;
  private reconcileState: { running: boolean; again: boolean; failures: number; timer?: NodeJS.Timeout } = { running: false, again: false, failures: 0 };
  private redisAuthFailed = false;
  private lastListenerError: string | undefined;

  constructor(private readonly config: CredentialCacheOptions) {
    super();
    this.options = resolveCacheOptions(config);
    const limits = refreshLimitsFrom(this.options);
    for (const [name, spec] of Object.entries(config.secrets)) this.states.set(name, new SecretState(name, spec, limits));
    this.ownsClient = config.secretsClient === undefined;
    this.client = config.secretsClient ?? new SecretsManagerClient({ ...(config.region ? { region: config.region } : {}), ...SECRETS_CLIENT_SETTINGS });
    this.refresher = new Refresher({
      client: this.client,
      options: this.options,
      counts: this.counts,
      isRunning: () => this.active,
      onRotated: (event) => this.onRotated(event),
      // After every read, awaited or not: the ack reports what is in use (debounced by presence).
      onSettled: () => this.presence?.ack(),
    });
    if (this.options.presence && config.redis) {
      this.presence = new PresenceWriter({
        keyPrefix: config.redis.keyPrefix,
        ...this.options.presence,
        client: () => this.listener?.commandClient(),
        held: () => this.heldVersions(),
        subscribed: () => this.listener?.connected ?? false,
        now: this.options.now,
        logger: this.options.logger,
        metrics: this.options.metrics,
      });
    }
    // Reconcile (and so lost state) and the read budget (it holds back only invalidation- and
    // reconcile-driven reads) exist only with pub/sub: without `redis` these counts stay absent.
    if (config.redis) {
      this.counts.versionsStateLost = 0;
      this.counts.refreshesThrottled = 0;
    }
    this.lostState = new LostStateRecovery({
      reread: (state, request) => void this.background(state, request),
      isRunning: () => this.active,
      counts: this.counts,
      now: this.options.now,
      logger: this.options.logger,
      metrics: this.options.metrics,
      jitterMs: this.options.lostStateJitterMs,
    });
    this.poll = new PollScheduler({
      intervalMs: this.options.pollIntervalMs,
      jitter: this.options.pollJitter,
      now: this.options.now,
      poll: () => this.pollAll(),
    });
  }

  /**
   * Subscribes to invalidations, loads every secret once, and starts the poll. Rejects with
   * {@link SecretUnavailableAtStartError} (naming each secret) when a secret cannot be loaded and
   * has no usable env fallback; everything started is then stopped again. Idempotent.
   */
  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new CacheStoppedError());
    this.starting ??= this.doStart();
    return this.starting;
  }

  /** Clears every timer and closes both Redis connections. Idempotent; values stay readable. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  get<T = unknown>(name: string): T {
    return this.current<T>(name).value;
  }

  current<T = unknown>(name: string): CredentialVersion<T> {
    const state = this.stateFor(name);
    if (!state.held) throw new CacheNotStartedError(name);
    return state.current() as CredentialVersion<T>;
  }

  /**
   * Re-reads AWSCURRENT (one read shared by concurrent callers). Within `authFailureMinIntervalMs`
   * of the last finished refresh of this secret it reads nothing and returns that refresh's result,
   * so a storm of failed logins costs one read. Never rejects for a Secrets Manager failure: it
   * resolves `{ changed: false }` with the last good value (the failure shows in `status()`).
   */
  async reportAuthFailure<T = unknown>(name: string): Promise<{ changed: boolean; current: CredentialVersion<T> }> {
    const state = this.stateFor(name);
    this.current(name); // throws before start
    const now = this.options.now();
    const last = state.lastCompleted;
    if (!state.flight.inFlight && last && now - last.at < this.options.authFailureMinIntervalMs) {
      return { changed: last.changed, current: this.current<T>(name) };
    }
    let changed = false;
    try {
      ({ changed } = await this.refresher.refresh(state, { kind: 'current', trigger: 'auth-failure', at: now }));
    } catch {
      // Recorded, logged and retried by the refresher; the caller keeps the last good value.
    }
    return { changed, current: this.current<T>(name) };
  }

  /** See {@link readPending}: the AWSPENDING version, cached `pendingTtlMs`; undefined when none. */
  async pending<T = unknown>(name: string): Promise<CredentialVersion<T> | undefined> {
    const state = this.stateFor(name);
    this.current(name); // throws before start
    return (await readPending(state, this.refresher, this.options.now, this.options.pendingTtlMs)) as CredentialVersion<T> | undefined;
  }

  recordAuthRecovery(name: string): void {
    this.stateFor(name);
    this.counts.authRecoveries += 1;
    this.options.metrics.count(MetricNames.AuthFailureRecoveries);
  }

  /** Re-reads AWSCURRENT of one secret, or of all; rejects with the typed error if a read fails. */
  async forceRefresh(name?: string): Promise<void> {
    const states = name === undefined ? [...this.states.values()] : [this.stateFor(name)];
    const at = this.options.now();
    try {
      await Promise.all(states.map((state) => this.refresher.refresh(state, { kind: 'current', trigger: 'force', at })));
    } finally {
      this.presence?.ack();
    }
  }

  /** What operators need to know, never a value: every field is metadata by construction. */
  status(): CacheStatus {
    const now = this.options.now();
    const secrets: CacheStatus['secrets'] = {};
    for (const [name, state] of this.states) secrets[name] = state.status(now);
    const pubsub: CacheStatus['pubsub'] = { enabled: this.config.redis !== undefined, connected: this.listener?.connected ?? false };
    if (this.config.redis !== undefined) pubsub.signing = this.options.signingKeys.length > 0 ? 'verified' : 'unsigned';
    if (this.lastInvalidation) {
      pubsub.lastInvalidationAt = new Date(this.lastInvalidation.at).toISOString();
      pubsub.lastInvalidation = {
        secretName: this.lastInvalidation.secretName,
        ...(this.lastInvalidation.versionId !== undefined ? { versionId: this.lastInvalidation.versionId } : {}),
      };
    }
    const nextPollInMs = this.poll.nextInMs();
    return {
      running: this.started && !this.stopping,
      pollIntervalMs: this.options.pollIntervalMs,
      ...(nextPollInMs !== undefined ? { nextPollInMs } : {}),
      pubsub,
      secrets,
      ...(this.presence ? { presence: this.presence.status() } : {}),
      counts: { ...this.counts },
    };
  }

  private async doStart(): Promise<void> {
    this.active = true;
    const { logger } = this.options;
    try {
      if (this.config.redis !== undefined && this.options.signingKeys.length === 0) {
        // Only reachable through the allowUnsigned opt-in (resolveCacheOptions refuses it otherwise).
        logger.warn(
          { code: 'UNSIGNED_MODE' },
          'signing is off (allowUnsigned: true, no signingKeys): invalidations are accepted unverified, so anyone who can publish on the Redis channel can make this instance re-read its secrets; give it the worker\'s signingKeys',
        );
      }
      const passwordSecret = this.config.redis?.passwordSecret;
      // The Redis password must be known before connecting; a change to it published before the
      // subscription is caught by the first reconcile like any other.
      if (passwordSecret !== undefined) await this.loadInitial([this.stateFor(passwordSecret)]);
      const subscribed = this.startListener();
      // Subscribe first (above), then fetch: with the reconcile that follows the first
      // subscription, nothing published during start-up can be missed.
      const rest = [...this.states.values()].filter((state) => state.name !== passwordSecret);
      this.initialLoad = this.loadInitial(rest);
      await this.initialLoad;
      if (this.stopping) throw new CacheStoppedError();
      this.started = true;
      this.poll.start();
      this.presence?.start();
      if (subscribed && !(await settlesWithin(subscribed, this.options.subscribeWaitMs))) {
        logger.warn(
          { waitedMs: this.options.subscribeWaitMs },
          'invalidation subscription not active yet; keeps connecting in the background, the poll covers meanwhile',
        );
      }
      logger.info(
        { secrets: [...this.states.keys()], pollIntervalMs: this.options.pollIntervalMs, pubsub: this.listener !== undefined },
        'credential cache started',
      );
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Loads each secret once; falls back to the environment only when Secrets Manager is unreachable. */
  private async loadInitial(states: SecretState[]): Promise<void> {
    const at = this.options.now();
    const failures: Array<{ name: string; secretId: string; error: unknown }> = [];
    await Promise.all(
      states.map(async (state) => {
        try {
          await this.refresher.refresh(state, { kind: 'current', trigger: 'start', at });
        } catch (error) {
          if (state.held) return; // an invalidation that joined the start read got it meanwhile
          if (!(error instanceof SecretsManagerUnavailableError) || state.spec.envFallback === undefined) {
            failures.push({ name: state.name, secretId: state.spec.secretId, error });
            return;
          }
          this.useEnvFallback(state, error, failures);
        }
      }),
    );
    if (failures.length > 0) throw new SecretUnavailableAtStartError(failures);
  }

  private useEnvFallback(state: SecretState, cause: SecretsManagerUnavailableError, failures: Array<{ name: string; secretId: string; error: unknown }>): void {
    let value: unknown;
    try {
      value = readEnvFallback(state.name, state.spec, this.options.env);
    } catch (error) {
      failures.push({ name: state.name, secretId: state.spec.secretId, error });
      return;
    }
    state.held = { value, versionId: ENV_FALLBACK_VERSION_ID, secretArn: state.arn ?? state.spec.secretId, source: 'env-fallback' };
    this.options.logger.warn(
      { name: state.name, secretId: state.spec.secretId, source: 'env-fallback', code: cause.code },
      `Secrets Manager unreachable at start (${cause.message}); secret "${state.name}" uses its env fallback until Secrets Manager answers`,
    );
    this.refresher.scheduleRetry(state, { kind: 'current', trigger: 'retry', at: this.options.now() });
  }

  private startListener(): Promise<void> | undefined {
    const redis = this.config.redis;
    if (!redis) return undefined;
    const password = redis.passwordSecret === undefined ? undefined : this.redisPassword(redis.passwordSecret);
    const listener = new InvalidationListener({
      redis,
      signingKeys: this.options.signingKeys,
      maxAgeMs: this.options.maxAgeMs,
      clockSkewToleranceMs: this.options.clockSkewToleranceMs,
      // The cache's clock judges messages too: one notion of "now" per cache (and a testable one).
      now: this.options.now,
      connectionName: listenerConnectionName(this.options.presence?.instanceId),
      // Bounds follow the heartbeat: a dead connection is noticed, and a healed one back, within about one.
      ...listenerTimingsFor(this.options.presence?.heartbeatIntervalMs),
      ...(password !== undefined ? { password } : {}),
    });
    this.listener = listener;
    listener.on('invalidation', (invalidation) => this.onInvalidation(invalidation));
    const { logger, metrics, clockSkewToleranceMs, maxAgeMs } = this.options;
    const rejections = new RejectionLog({ logger, metrics });
    this.rejections = rejections;
    const clockSkew = new ClockSkewMonitor({ logger, metrics, clockSkewToleranceMs, maxAgeMs });
    listener.on('rejected', (rejection) => {
      this.counts.invalidationsRejected += 1;
      // Summarised, not one line each: whoever can publish decides how many there are.
      rejections.record(rejection);
      clockSkew.observe(rejection);
    });
    listener.on('subscribed', () => this.onSubscribed());
    listener.on('disconnected', () => {
      this.presence?.ack();
      this.options.logger.warn('invalidation subscription lost; reconnecting (the poll covers meanwhile)');
      this.safeEmit('disconnected');
    });
    listener.on('auth-failed', () => {
      this.onRedisAuthFailure().catch((error: unknown) => this.logUnexpected('redis auth-failure handling', error));
    });
    listener.on('error', (error) => this.onListenerError(error));
    const subscribed = listener.start();
    subscribed.catch(() => undefined); // stop() before the first subscription
    return subscribed;
  }

  private onSubscribed(): void {
    this.lastListenerError = undefined;
    const passwordSecret = this.config.redis?.passwordSecret;
    if (this.redisAuthFailed && passwordSecret !== undefined) {
      this.redisAuthFailed = false;
      this.recordAuthRecovery(passwordSecret);
      this.options.logger.info({ name: passwordSecret }, 'invalidation subscription re-authenticated with the refreshed Redis password');
    }
    this.options.logger.debug('invalidation subscription active; reconciling');
    this.presence?.ack();
    this.safeEmit('subscribed');
    this.reconcile().catch((error: unknown) => this.logUnexpected('reconcile', error));
  }

  /**
   * A verified invalidation is in hand: record it now (its time is the trigger time every latency
   * is measured from), and start the refresh it asks for on the next turn of the event loop, not
   * inside the Redis message handler. Starting a GetSecretValue costs the AWS SDK a millisecond or
   * more of CPU before the request leaves; done inline, it would sit between this message and
   * every other message that Redis delivered in the same read — several secrets rotated together,
   * a reconcile's worth of broadcasts, or other caches in the same process — and delay them all.
   *
   * Whoever can publish decides how many messages arrive, so nothing here grows with them: a
   * message id already handled (a replay) is dropped; a version a read already found not current
   * (see `SecretState.knownNotCurrent`) costs nothing; anything else merges into the secret's one
   * waiting request (`Refresher.submit`), which the read budget paces.
   */
  private onInvalidation(invalidation: Invalidation): void {
    const at = this.options.now();
    this.counts.invalidationsReceived += 1;
    this.lastInvalidation = { at, secretName: invalidation.secretName, ...(invalidation.versionId !== undefined ? { versionId: invalidation.versionId } : {}) };
    for (const state of this.states.values()) {
      if (!state.matches(invalidation.secretArn)) continue;
      if (!state.handle(invalidation.id)) continue;
      state.lastInvalidationId = invalidation.id;
      this.lostState.sawBroadcast(state);
      this.options.logger.debug({ name: state.name, versionId: invalidation.versionId, id: invalidation.id }, 'invalidation received');
      if (invalidation.versionId !== undefined) {
        state.announce(invalidation.versionId);
        if (state.knownNotCurrent(invalidation.versionId, Date.parse(invalidation.publishedAt))) continue;
        const confirmedAt = this.confirmedAt(invalidation);
        this.refresher.submit(state, {
          kind: 'version',
          versionId: invalidation.versionId,
          ifNotCurrent: 'wait-for-change',
          trigger: 'invalidation',
          at,
          ...(confirmedAt !== undefined ? { confirmedAt } : {}),
        });
      } else {
        state.announcedUnversionedAt = at;
        this.refresher.submit(state, { kind: 'changed', trigger: 'invalidation', at });
      }
    }
  }

  /**
   * When the worker confirmed the invalidation's version as AWSCURRENT, if that is proven: with
   * signing keys configured every accepted message (and versions-hash entry) had its signature,
   * which covers `publishedAt`, verified. Unsigned messages prove nothing.
   */
  private confirmedAt(invalidation: Invalidation): number | undefined {
    if (this.options.signingKeys.length === 0) return undefined;
    const publishedAt = Date.parse(invalidation.publishedAt);
    return Number.isNaN(publishedAt) ? undefined : publishedAt;
  }

  /**
   * After every (re)subscription: read `{P}:versions` on the normal connection and refresh what
   * is stale. Runs after the initial load (a reconcile needs to know what is held), coalesces
   * overlapping calls, and retries with backoff when Redis cannot be read.
   */
  private async reconcile(): Promise<void> {
    const run = this.reconcileState;
    if (run.running) {
      run.again = true;
      return;
    }
    run.running = true;
    try {
      do {
        run.again = false;
        await this.initialLoad?.catch(() => undefined);
        if (!this.active || !this.listener) return;
        await this.reconcileOnce(this.listener);
      } while (run.again && this.active);
    } finally {
      run.running = false;
    }
  }

  private async reconcileOnce(listener: InvalidationListener): Promise<void> {
    const run = this.reconcileState;
    let versions;
    try {
      versions = await listener.readVersions();
    } catch (error) {
      run.failures += 1;
      const delay = backoffDelay(run.failures, this.options.backoff);
      this.options.logger.warn({ code: 'RECONCILE_FAILED', retryInMs: delay }, `reconcile could not read the versions hash: ${safeMessage(error)}`);
      if (run.timer) clearTimeout(run.timer);
      run.timer = setTimeout(() => {
        this.reconcile().catch((retryError: unknown) => this.logUnexpected('reconcile', retryError));
      }, delay);
      run.timer.unref();
      return;
    }
    run.failures = 0;
    if (versions.rejected > 0) this.options.logger.warn({ rejected: versions.rejected }, 'versions hash entries skipped: corrupt or not signed with an accepted key');
    for (const { state, entry, request } of planReconcile(this.states.values(), versions.entries, this.options.now())) {
      // Not remembered as handled: if the same broadcast then arrives live ("at worst you see it
      // twice"), its version is held and it costs nothing, or the reconcile's read missed it (a
      // label move not visible yet) and the live message's wait for the change is wanted.
      state.lastInvalidationId = entry.id;
      if (!request) continue;
      if (entry.versionId !== undefined) state.announce(entry.versionId);
      const confirmedAt = request.kind === 'version' ? this.confirmedAt(entry) : undefined;
      void this.background(state, request.kind === 'version' && confirmedAt !== undefined ? { ...request, confirmedAt } : request);
    }
    // An empty hash (or one missing a secret seen there) is no proof nothing changed: see LostStateRecovery.
    this.lostState.check(this.states.values(), versions);
  }

  private async pollAll(): Promise<void> {
    const at = this.options.now();
    await Promise.all([...this.states.values()].map((state) => this.background(state, { kind: 'current', trigger: 'poll', at })));
  }

  /** A refresh nobody awaits: failures are already recorded, logged and retried by the refresher (which also acks). */
  private async background(state: SecretState, request: Parameters<Refresher['refresh']>[1]): Promise<void> {
    try {
      await this.refresher.refresh(state, request);
    } catch {
      // see above
    }
  }

  /** What presence acks: every secret held, under its ARN once known. */
  private *heldVersions(): Iterable<{ name: string; secret: string; versionId: string }> {
    for (const state of this.states.values()) {
      if (state.held) yield { name: state.name, secret: state.arn ?? state.held.secretArn, versionId: state.held.versionId };
    }
  }

  private onRotated(event: RotatedEvent): void {
    if (event.name === this.config.redis?.passwordSecret && this.listener) {
      const password = this.redisPassword(event.name);
      if (password !== undefined) this.listener.setPassword(password);
    }
    // Listeners (the rotating clients) switch first; the ack reports what is then in use.
    this.safeEmit('rotated', event);
    this.presence?.ack();
  }

  /**
   * Redis refused the listener's password (it rotated and a reconnect used the old one). Refresh
   * the password secret — rate-limited like any auth failure, since ioredis retries quickly — and
   * hand the result to the next reconnect.
   */
  private async onRedisAuthFailure(): Promise<void> {
    const passwordSecret = this.config.redis?.passwordSecret;
    // Without one there is nothing to refresh; the (deduplicated) 'error' log names the WRONGPASS.
    if (passwordSecret === undefined || !this.active || !this.stateFor(passwordSecret).held) return;
    this.redisAuthFailed = true;
    const { changed } = await this.reportAuthFailure(passwordSecret);
    const password = this.redisPassword(passwordSecret);
    if (password !== undefined) this.listener?.setPassword(password);
    // ioredis retries every ≤ 2 s: one warn when the refresh found a new password, debug otherwise.
    this.options.logger[changed ? 'warn' : 'debug'](
      { name: passwordSecret, changed },
      changed ? 'Redis refused the listener password; refreshed it from Secrets Manager for the next reconnect' : 'Redis refused the listener password; Secrets Manager has no newer one yet',
    );
  }

  private redisPassword(name: string): string | undefined {
    const password = redisPasswordFrom(this.get(name));
    if (password === undefined) {
      this.options.logger.warn({ name }, `secret "${name}" (redis.passwordSecret) has no password or authToken field; Redis credentials left unchanged`);
    }
    return password;
  }

  private onListenerError(error: Error): void {
    // ioredis reports every failed reconnect; one warn per distinct error is enough.
    const message = error.message;
    const level = message === this.lastListenerError ? 'debug' : 'warn';
    this.lastListenerError = message;
    this.options.logger[level]({ code: 'REDIS_ERROR', error: error.name }, `invalidation listener: ${message}`);
  }

  /** Last line of defence for fire-and-forget work: a bug must be logged, never crash the app. */
  private logUnexpected(what: string, error: unknown): void {
    this.options.logger.error({ code: 'UNEXPECTED', what }, `${what} failed unexpectedly: ${safeMessage(error)}`);
  }

  private safeEmit<K extends keyof CredentialCacheEvents>(event: K, ...args: CredentialCacheEvents[K]): void {
    try {
      // A throwing 'rotated' handler must not turn a successful refresh into a failure.
      (this.emit as (event: K, ...args: CredentialCacheEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.options.logger.error({ event, error: error instanceof Error ? error.name : 'unknown' }, `a "${event}" listener threw; ignored`);
    }
  }

  private stateFor(name: string): SecretState {
    const state = this.states.get(name);
    if (!state) throw new UnknownSecretError(name, [...this.states.keys()]);
    return state;
  }

  private async doStop(): Promise<void> {
    this.active = false;
    this.poll.stop();
    this.refresher.close();
    for (const state of this.states.values()) {
      state.clearRetry();
      // A request still waiting (for the read in flight, or for the budget) is dropped; the read in flight finishes.
      state.slot.clear(new CacheStoppedError());
    }
    if (this.reconcileState.timer) clearTimeout(this.reconcileState.timer);
    this.lostState.stop();
    await this.presence?.stop();
    await this.listener?.stop();
    this.rejections?.close();
    if (this.ownsClient) this.client.destroy();
    if (this.started) this.options.logger.info('credential cache stopped');
  }
}

/** Builds a {@link CredentialCache}; call `start()` before reading values. */
export function createCredentialCache(options: CredentialCacheOptions): CredentialCache {
  return new CredentialCache(options);
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
