import { EventEmitter } from 'node:events';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MetricNames } from '../../metrics/index.js';
import { SDK_CLIENT_SETTINGS } from '../../secrets/index.js';
import { refreshAfterAuthFailure } from './auth-failure-refresh.js';
import { refreshAllSettled, refreshInBackground } from './background-refresh.js';
import { cachePresence } from './cache-presence.js';
import { assembleStatus, newCounts } from './cache-status.js';
import { CacheNotStartedError, CacheStoppedError, UnknownSecretError } from './errors.js';
import { emitSafely } from './emit-safely.js';
import { loadInitial } from './initial-load.js';
import { Lifecycle } from './lifecycle.js';
import { ListenerLink } from './listener-link.js';
import { refreshLimitsFrom, resolveCacheOptions, type ResolvedCacheOptions } from './options.js';
import { readPending } from './pending.js';
import { PollScheduler } from './poll-scheduler.js';
import type { PresenceWriter } from './presence.js';
import { Reconciler } from './reconcile.js';
import { Refresher } from './refresher.js';
import { RefreshQueue } from './refresh-queue.js';
import { SecretState, type RefreshRequest } from './secret-state.js';
import { Revoker } from './revocation.js';
import type { CacheCounts, CacheStatus, CredentialCacheOptions, CredentialSource, CredentialVersion, ForceRefreshOptions, RevokedEvent, RotatedEvent } from './types.js';

export { listenerConnectionName } from './listener-link.js';

/** Settings of the Secrets Manager client the cache builds when none is injected (see SDK_CLIENT_SETTINGS). */
export const SECRETS_CLIENT_SETTINGS = SDK_CLIENT_SETTINGS;

/** Events of a `CredentialCache`. */
export interface CredentialCacheEvents {
  /** A secret now has a new version in place (not emitted for the first load at start). */
  rotated: [RotatedEvent];
  /** Emergency revoke: clients close every connection not on `versionId` now (see {@link RevokedEvent}). */
  revoked: [RevokedEvent];
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
 *
 * A façade: the reads are here, the work is in named parts — the initial load (initial-load.ts),
 * the listener link (listener-link.ts, with its own password), the refresh queue
 * (refresh-queue.ts), the reconciler (reconcile.ts), the refresher, the poll and presence.
 */
export class CredentialCache extends EventEmitter<CredentialCacheEvents> implements CredentialSource {
  private readonly options: ResolvedCacheOptions;
  private readonly states = new Map<string, SecretState>();
  private readonly client: SecretsManagerClient;
  private readonly ownsClient: boolean;
  private readonly refresher: Refresher;
  private readonly poll: PollScheduler;
  private readonly reconciler: Reconciler;
  private readonly queue: RefreshQueue;
  private readonly revoker: Revoker;
  private readonly lifecycle = new Lifecycle({ start: () => this.doStart(), stop: () => this.doStop() });
  private readonly counts: CacheCounts;
  /** Pub/sub; undefined without `redis`. */
  private readonly link: ListenerLink | undefined;
  /** Fleet presence and acks (docs/protocol.md); undefined when off. */
  private readonly presence: PresenceWriter | undefined;
  private initialLoad: Promise<unknown> | undefined;

  constructor(private readonly config: CredentialCacheOptions) {
    super();
    const options = (this.options = resolveCacheOptions(config));
    this.counts = newCounts(config.redis !== undefined);
    const limits = refreshLimitsFrom(options);
    for (const [name, spec] of Object.entries(config.secrets)) this.states.set(name, new SecretState(name, spec, limits));
    this.ownsClient = config.secretsClient === undefined;
    this.client = config.secretsClient ?? new SecretsManagerClient({ ...(config.region ? { region: config.region } : {}), ...SECRETS_CLIENT_SETTINGS });
    const isRunning = (): boolean => this.lifecycle.active;
    const onRotated = (event: RotatedEvent): void => this.onRotated(event);
    // After every read, awaited or not: the ack reports what is in use (debounced by presence).
    this.refresher = new Refresher({ client: this.client, options, counts: this.counts, isRunning, onRotated, onSettled: () => this.presence?.ack() });
    const refresh = (state: SecretState, request: RefreshRequest): void => void refreshInBackground(this.refresher, state, request);
    const common = { ...options, states: this.states, counts: this.counts, isRunning };
    this.revoker = new Revoker({ ...common, emit: (event) => this.safeEmit('revoked', event) });
    this.reconciler = new Reconciler({ ...common, listener: () => this.link?.listener, initialLoad: () => this.initialLoad, refresh });
    const revoke = (state: SecretState): void => this.revoker.revoke(state, 'invalidation');
    this.queue = new RefreshQueue({ ...common, refresher: this.refresher, sawBroadcast: (state) => this.reconciler.sawBroadcast(state), revoke });
    if (config.redis) {
      this.link = new ListenerLink({
        redis: config.redis,
        options,
        counts: this.counts,
        onInvalidation: (invalidation) => this.queue.onInvalidation(invalidation),
        ack: () => this.presence?.ack(),
        emit: (event) => this.safeEmit(event),
        reconcile: () => this.reconciler.reconcile(),
        password: { isRunning, isHeld: (name) => this.stateFor(name).held !== undefined, source: this },
      });
      if (options.presence) this.presence = cachePresence({ ...options, keyPrefix: config.redis.keyPrefix, presence: options.presence, link: this.link, states: this.states });
    }
    this.poll = new PollScheduler({ intervalMs: options.pollIntervalMs, jitter: options.pollJitter, now: options.now, poll: () => this.pollAll() });
  }

  /**
   * Subscribes to invalidations, loads every secret once, and starts the poll. Rejects with
   * {@link SecretUnavailableAtStartError} (naming each secret) when a secret cannot be loaded and
   * has no usable env fallback; everything started is then stopped again. Idempotent.
   */
  start(): Promise<void> {
    return this.lifecycle.start();
  }

  /** Clears every timer and closes both Redis connections. Idempotent; values stay readable. */
  stop(): Promise<void> {
    return this.lifecycle.stop();
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
    const changed = await refreshAfterAuthFailure(state, this.refresher, this.options.now(), this.options.authFailureMinIntervalMs);
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

  /** A client's `validateBeforeSwitch` found new credentials the server refused (status count and metric). */
  recordValidationFailure(name: string): void {
    this.stateFor(name);
    this.counts.credentialValidationFailures = (this.counts.credentialValidationFailures ?? 0) + 1;
    this.options.metrics.count(MetricNames.CredentialValidationFailures);
  }

  /**
   * Re-reads AWSCURRENT of one secret, or of all; rejects with the typed error if a read fails
   * (once every read has settled). With `terminateOld`, then emits `revoked` for each: the
   * emergency revoke of {@link ForceRefreshOptions}.
   */
  async forceRefresh(name?: string, options: ForceRefreshOptions = {}): Promise<void> {
    const states = name === undefined ? [...this.states.values()] : [this.stateFor(name)];
    try {
      await refreshAllSettled(this.refresher, states, { kind: 'current', trigger: 'force', at: this.options.now() });
    } finally {
      this.presence?.ack();
      if (options.terminateOld) for (const state of states) this.revoker.revoke(state, 'force');
    }
  }

  /** What operators need to know, never a value: every field is metadata by construction (see assembleStatus). */
  status(): CacheStatus {
    const { poll, presence, states, counts } = this;
    const pubsub = { pubsubEnabled: this.config.redis !== undefined, listener: this.link?.listener, lastInvalidation: this.queue.last };
    return assembleStatus({ ...this.options, ...pubsub, now: this.options.now(), running: this.lifecycle.running, poll, presence, states, counts });
  }

  private async doStart(): Promise<void> {
    const { logger } = this.options;
    try {
      this.link?.warnIfUnsigned();
      const passwordSecret = this.config.redis?.passwordSecret;
      // The Redis password must be known before connecting; a change to it published before the
      // subscription is caught by the first reconcile like any other.
      if (passwordSecret !== undefined) await loadInitial([this.stateFor(passwordSecret)], { ...this.options, refresher: this.refresher });
      this.link?.start();
      // Subscribe first (above), then fetch: with the reconcile that follows the first
      // subscription, nothing published during start-up can be missed.
      const rest = [...this.states.values()].filter((state) => state.name !== passwordSecret);
      this.initialLoad = loadInitial(rest, { ...this.options, refresher: this.refresher });
      await this.initialLoad;
      if (this.lifecycle.stopRequested) throw new CacheStoppedError();
      this.lifecycle.started = true;
      this.poll.start();
      this.presence?.start();
      await this.link?.warnUnlessSubscribedWithin(this.options.subscribeWaitMs);
      logger.info(
        { secrets: [...this.states.keys()], pollIntervalMs: this.options.pollIntervalMs, pubsub: this.link?.listener !== undefined },
        'credential cache started',
      );
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  private async pollAll(): Promise<void> {
    const at = this.options.now();
    await Promise.all([...this.states.values()].map((state) => refreshInBackground(this.refresher, state, { kind: 'current', trigger: 'poll', at })));
  }

  private onRotated(event: RotatedEvent): void {
    this.link?.onRotated(event.name);
    // Listeners (the rotating clients) switch first; the ack reports what is then in use.
    this.safeEmit('rotated', event);
    this.presence?.ack();
  }

  private safeEmit<K extends keyof CredentialCacheEvents>(event: K, ...args: CredentialCacheEvents[K]): void {
    emitSafely(this.options.logger, () => (this.emit as (event: K, ...args: CredentialCacheEvents[K]) => boolean)(event, ...args), event);
  }

  private stateFor(name: string): SecretState {
    const state = this.states.get(name);
    if (!state) throw new UnknownSecretError(name, [...this.states.keys()]);
    return state;
  }

  private async doStop(): Promise<void> {
    this.poll.stop();
    this.refresher.close();
    for (const state of this.states.values()) state.stop(new CacheStoppedError());
    this.reconciler.stop();
    await this.presence?.stop();
    await this.link?.stop();
    if (this.ownsClient) this.client.destroy();
    if (this.lifecycle.started) this.options.logger.info('credential cache stopped');
  }
}

/** Builds a {@link CredentialCache}; call `start()` before reading values. */
export function createCredentialCache(options: CredentialCacheOptions): CredentialCache {
  return new CredentialCache(options);
}
