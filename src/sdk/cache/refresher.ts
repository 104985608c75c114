import { startGateFor, type StartGate } from './start-gate.js';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MetricNames } from '../../metrics/index.js';
import { SecretVersionNotFoundError, getSecretValue, type SecretValue, type SecretVersionSelector } from '../../secrets/index.js';
import { backoffDelay } from './backoff.js';
import { CacheStoppedError } from './errors.js';
import type { ResolvedCacheOptions } from './options.js';
import { parseSecretString } from './parse-secret.js';
import { safeMessage, type HeldVersion, type RefreshRequest, type SecretState } from './secret-state.js';
import type { CacheCounts, RotatedEvent } from './types.js';
import { isBudgeted, runWaiters, type RunningRefresh, type WaitingRefresh } from './waiting-refresh.js';

export type { CacheCounts } from './types.js';

export interface RefreshResult {
  /** The version held now differs from the one held when the request was made. */
  changed: boolean;
}

export interface RefresherDeps {
  client: SecretsManagerClient;
  options: ResolvedCacheOptions;
  counts: CacheCounts;
  /** False once the cache is stopping: no new retries are scheduled, wait loops end. */
  isRunning: () => boolean;
  /** A new version is in place (not called for the first value loaded at start). */
  onRotated: (event: RotatedEvent) => void;
  /** A read settled, changed or not, whether or not anybody awaited it (presence acks). */
  onSettled?: (state: SecretState) => void;
}

/** A throttled secret warns at most this often; the count and the metric see every wait. */
const THROTTLE_WARN_INTERVAL_MS = 60_000;

/** First and longest pause between two AWSCURRENT reads while waiting for a label move to show. */
const CHANGE_POLL_FIRST_PAUSE_MS = 100;
const CHANGE_POLL_MAX_PAUSE_MS = 500;

/**
 * Reads secrets and puts new versions in place: per secret at most one read in flight and one
 * request waiting (newer requests merge into it, `RefreshSlot`), the read budget of
 * invalidation-driven reads (`RefreshBudget`), the three fetch strategies of `RefreshRequest`,
 * failure bookkeeping and retries with backoff. The cache decides *when* to refresh; this decides
 * *how*, and makes sure one change costs one GetSecretValue and no number of messages costs more
 * than the budget.
 */
export class Refresher {
  private readonly missedChecks = new Set<NodeJS.Timeout>();

  /** Where invalidation-driven starts wait for the process to be quiet (shared by its caches). */
  private readonly gate: StartGate;

  constructor(private readonly deps: RefresherDeps) {
    this.gate = startGateFor(deps.options.refreshStartQuietMs);
  }

  /** Cancels pending MissedByEvents checks (the cache is stopping). */
  close(): void {
    for (const timer of this.missedChecks) clearTimeout(timer);
    this.missedChecks.clear();
  }

  /**
   * Refreshes one secret for one trigger and resolves once a read that serves the request settled.
   * A plain AWSCURRENT read joins one already in flight; anything else waits in the secret's one
   * waiting slot, merged with whatever else waits there (`RefreshSlot`), and is served by the next
   * read — at once when nothing is in flight. Resolves at once when the named version is held.
   * Rejects with the typed error when the read serving it failed (already recorded and, except at
   * start, retried in the background), and with `CacheStoppedError` when the cache stopped while
   * the request was throttled.
   */
  async refresh(state: SecretState, request: RefreshRequest): Promise<RefreshResult> {
    const base = state.held?.versionId;
    if (request.kind === 'version' && base === request.versionId) return { changed: false };
    const bypass = !isBudgeted(request.trigger);
    const running = state.slot.running;
    // Whoever bypasses the budget must not wait behind a read that waits for it.
    if (running && bypass) this.unthrottle(running);
    if (running && request.kind === 'current' && running.request.kind !== 'version') {
      // Every run that is not for a named version reads AWSCURRENT: a storm of callers costs one read.
      await running.promise;
      return { changed: state.held?.versionId !== base };
    }
    const waiting = state.slot.add(request, base, bypass);
    waiting.waiters ??= runWaiters();
    const { promise } = waiting.waiters;
    this.pump(state);
    await promise;
    return { changed: state.held?.versionId !== base };
  }

  /**
   * What an invalidation asks for: merged into the waiting slot like `refresh`, but nobody awaits
   * it, so a flood of messages holds no promise, closure or queue entry per message. Starts when
   * the process is quiet (`StartGate`: every co-located cache has its message first) when nothing
   * is in flight.
   */
  submit(state: SecretState, request: RefreshRequest): void {
    if (!this.deps.isRunning()) return;
    if (request.kind === 'version' && state.held?.versionId === request.versionId) return;
    const slot = state.slot;
    const bypass = !isBudgeted(request.trigger);
    if (slot.running && bypass) this.unthrottle(slot.running);
    slot.add(request, state.held?.versionId, bypass);
    // The read in flight, or the timer waiting for a token, starts the waiting request when it ends.
    if (slot.running || slot.startSoon || (slot.timer && !bypass)) return;
    slot.startSoon = this.gate.defer(() => {
      slot.startSoon = undefined;
      this.pump(state);
    });
  }

  /** The read in flight no longer waits for the budget: a caller that bypasses it waits for this read. */
  private unthrottle(running: RunningRefresh): void {
    if (running.bypass) return;
    running.bypass = true;
    running.wake?.();
  }

  /**
   * Starts the waiting request unless a read is in flight, it is already met, or — when budgeted
   * — no token is there: then a timer retries when one will be (the request keeps waiting and
   * keeps absorbing newer ones; it is never dropped).
   */
  private pump(state: SecretState): void {
    const slot = state.slot;
    const waiting = slot.waiting;
    if (slot.running || !waiting) return;
    if (this.isMet(state, waiting)) {
      slot.take();
      waiting.waiters?.resolve();
      return;
    }
    if (!waiting.bypass) {
      if (!this.deps.isRunning()) {
        slot.take();
        waiting.waiters?.reject(new CacheStoppedError());
        return;
      }
      const waitMs = state.budget.startRefresh();
      if (waitMs > 0) {
        if (!slot.timer) {
          this.throttled(state, waiting.request, waitMs);
          slot.timer = setTimeout(() => {
            slot.timer = undefined;
            this.pump(state);
          }, waitMs);
          slot.timer.unref();
        }
        return;
      }
    }
    slot.take();
    this.start(state, waiting);
  }

  /** The waiting request needs no read any more: its version is held, or the change it waited for happened. */
  private isMet(state: SecretState, waiting: WaitingRefresh): boolean {
    const held = state.held?.versionId;
    const { request } = waiting;
    if (request.kind === 'version') return held === request.versionId;
    if (request.kind === 'changed') return held !== waiting.base;
    return false;
  }

  private start(state: SecretState, waiting: WaitingRefresh): void {
    const slot = state.slot;
    const { request, base } = waiting;
    const run: RunningRefresh = { request, bypass: waiting.bypass, prepaid: waiting.bypass ? 0 : 1, wake: undefined, promise: Promise.resolve() };
    run.promise = state.flight.run(() => this.execute(state, request, base, run), this.deps.options.now());
    slot.running = run;
    const settled = (): void => {
      if (slot.running === run) slot.running = undefined;
      this.deps.onSettled?.(state);
      this.pump(state);
    };
    run.promise.then(
      () => {
        waiting.waiters?.resolve();
        settled();
      },
      (error: unknown) => {
        waiting.waiters?.reject(error);
        settled();
      },
    );
  }

  /** Retry `request` after the backoff for the current failure streak (replaces a pending retry). */
  scheduleRetry(state: SecretState, request: RefreshRequest): void {
    if (!this.deps.isRunning()) return;
    state.clearRetry();
    const delay = backoffDelay(state.consecutiveFailures, this.deps.options.backoff);
    const retryRequest: RefreshRequest = { ...request, trigger: 'retry' };
    const timer = setTimeout(() => {
      state.retry = undefined;
      // Failures are recorded (and the next retry scheduled) inside; nothing to do here.
      this.refresh(state, retryRequest).catch(() => undefined);
    }, delay);
    timer.unref();
    state.retry = { timer, at: this.deps.options.now() + delay, request: retryRequest };
  }

  /** Reads `selector` and parses it without touching the state (used by `pending()`). */
  async read(state: SecretState, selector: SecretVersionSelector): Promise<{ fetched: SecretValue; value: unknown }> {
    const fetched = await getSecretValue(this.deps.client, state.spec.secretId, selector);
    const value = parseSecretString(fetched.secretString, { name: state.name, secretId: state.spec.secretId, json: state.json, versionId: fetched.versionId });
    return { fetched, value };
  }

  private async execute(state: SecretState, request: RefreshRequest, base: string | undefined, run: RunningRefresh): Promise<void> {
    let changed = false;
    try {
      const fetched = await this.fetch(state, request, base, run);
      changed = this.adopt(state, fetched, request);
    } catch (error) {
      this.fail(state, request, error);
      throw error;
    }
    // Only a genuine rotation makes a read productive: the budget bounds the wasted ones.
    if (changed) state.budget.sawChange();
    state.lastCompleted = { at: this.deps.options.now(), changed };
  }

  private async fetch(state: SecretState, request: RefreshRequest, base: string | undefined, run: RunningRefresh): Promise<SecretValue> {
    if (request.kind === 'current') return this.get(state, { versionStage: 'AWSCURRENT' }, run);
    if (request.kind === 'changed') return this.readUntilChanged(state, request, base, run);
    const confirmed = await this.confirmedPending(state, request);
    if (confirmed) return confirmed;
    const { logger } = this.deps.options;
    const context = { name: state.name, versionId: request.versionId, trigger: request.trigger };
    let named: SecretValue;
    try {
      named = await this.get(state, { versionId: request.versionId }, run);
    } catch (error) {
      if (!(error instanceof SecretVersionNotFoundError)) throw error;
      // Forged, or deleted long ago: no message naming it is worth a read for a while. The secret
      // itself is fine, so this is no failure; one AWSCURRENT read answers "did anything change?".
      state.rememberNotCurrent(request.versionId);
      logger.debug(context, 'the version an invalidation named does not exist (forged, or deleted since); reading AWSCURRENT instead');
      return request.ifNotCurrent === 'until-changed' ? this.readUntilChanged(state, request, base, run) : this.get(state, { versionStage: 'AWSCURRENT' }, run);
    }
    // Only a version labelled AWSCURRENT is adopted. A version with no label at all is a
    // deprecated one (AWS keeps it readable by id until it deletes it): adopting it because there
    // is "nothing to judge by" would let a replayed genuine message install an old credential.
    if (named.versionStages.includes('AWSCURRENT')) return named;
    // AWSPENDING is the one label that moves to AWSCURRENT next: a read that does not show the move
    // yet (reads are eventually consistent) is worth waiting out. Any other label, or none, marks a
    // version that was current before (a replay, a stale message): remembered, read once.
    const mayBecomeCurrent = named.versionStages.includes('AWSPENDING');
    if (!mayBecomeCurrent) state.rememberNotCurrent(request.versionId);
    logger.debug(
      { ...context, stages: named.versionStages },
      'the version an invalidation named is not AWSCURRENT (stale, replayed or not yet visible); reading AWSCURRENT instead',
    );
    const wait = request.ifNotCurrent === 'until-changed' || (mayBecomeCurrent && request.ifNotCurrent === 'wait-for-change');
    return wait
      ? this.readUntilChanged(state, request, base, run)
      : this.get(state, { versionStage: 'AWSCURRENT' }, run);
  }

  /**
   * The AWSPENDING value this cache already read, when the broadcast naming it proves it is now
   * AWSCURRENT — so a single-user rotation costs no third read: the client's failed login reads
   * AWSCURRENT (still the old version) and AWSPENDING (the new one, which works), and the
   * invalidation that follows names that same version.
   *
   * The guarantee of the read it replaces ("only a version labelled AWSCURRENT is installed")
   * holds because every condition below must hold, otherwise the version is read as before:
   * - the broadcast's signature verified (`confirmedAt` is set only then): it comes from a worker
   *   that established the version as AWSCURRENT (DescribeSecret, or with fast publish the AWS
   *   event that moved the label, confirmed right after — a correction is a new broadcast);
   * - it was published after this cache sent its AWSPENDING read (`publishedAt` is signed, so it
   *   cannot be moved): the label moved to the version after we saw it pending. A replayed older
   *   broadcast naming it — from a time the version was current before, e.g. before a roll-back —
   *   fails this test. (The worker's and this host's clocks are compared, as the age check of
   *   every signed message already does; hosts on NTP agree to milliseconds);
   * - the read saw AWSPENDING without AWSPREVIOUS: a version that was current before and carries
   *   AWSPENDING again (a label moved back by hand) is never taken from this shortcut;
   * - the entry was read while the version held now was held, and for exactly `versionId`.
   * A value never changes within a version, so the value read is the value of that version.
   */
  private async confirmedPending(state: SecretState, request: Extract<RefreshRequest, { kind: 'version' }>): Promise<SecretValue | undefined> {
    const entry = state.pending;
    const { confirmedAt } = request;
    if (confirmedAt === undefined || !entry || entry.heldVersionId !== state.held?.versionId || !(confirmedAt > entry.requestedAt)) return undefined;
    try {
      await entry.promise; // a read still in flight is joined, not duplicated
    } catch {
      return undefined;
    }
    const fetched = entry.fetched;
    if (!fetched || fetched.versionId !== request.versionId || fetched.versionStages.includes('AWSPREVIOUS')) return undefined;
    if (state.pending !== entry || state.held?.versionId !== entry.heldVersionId) return undefined;
    this.deps.options.logger.debug(
      { name: state.name, versionId: fetched.versionId, trigger: request.trigger },
      'the broadcast confirms the AWSPENDING version already read as AWSCURRENT; adopting it without another read',
    );
    return fetched;
  }

  /**
   * AWSCURRENT, re-read with short growing pauses until it differs from `base`, at most
   * `consistencyWindowMs`: right after a label moves, reads may still return the old version.
   * A request waiting meanwhile ends the wait early: it reads next, and carries this wait on (it
   * is merged into it), rather than waiting seconds behind a loop a flood may have started.
   */
  private async readUntilChanged(state: SecretState, request: RefreshRequest, base: string | undefined, run: RunningRefresh): Promise<SecretValue> {
    const { now, consistencyWindowMs } = this.deps.options;
    const deadline = now() + consistencyWindowMs;
    let pause = CHANGE_POLL_FIRST_PAUSE_MS;
    for (;;) {
      const fetched = await this.get(state, { versionStage: 'AWSCURRENT' }, run);
      const remaining = deadline - now();
      if (fetched.versionId !== base || remaining <= 0 || !this.deps.isRunning()) return fetched;
      if (state.slot.waiting) {
        state.slot.add({ kind: 'changed', trigger: request.trigger, at: request.at }, base, run.bypass);
        return fetched;
      }
      await sleep(Math.min(pause, remaining));
      pause = Math.min(pause * 2, CHANGE_POLL_MAX_PAUSE_MS);
    }
  }

  /** One GetSecretValue for `run`, once the budget allows it (see `admit`). */
  private async get(state: SecretState, selector: SecretVersionSelector, run: RunningRefresh): Promise<SecretValue> {
    await this.admit(state, run);
    return getSecretValue(this.deps.client, state.spec.secretId, selector);
  }

  /**
   * Waits until `run` may read: at once when it bypasses the budget or still holds the token taken
   * to start it; otherwise until a token is there, or a caller that bypasses the budget joins.
   */
  private async admit(state: SecretState, run: RunningRefresh): Promise<void> {
    if (run.bypass) return;
    if (run.prepaid > 0) {
      run.prepaid -= 1;
      return;
    }
    for (let waitMs = state.budget.take(); waitMs > 0; waitMs = state.budget.take()) {
      this.throttled(state, run.request, waitMs);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        timer.unref();
        run.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      run.wake = undefined;
      if (!this.deps.isRunning()) throw new CacheStoppedError();
      if (run.bypass) return;
    }
  }

  /** A read had to wait for the budget: counted, and warned about once a minute per secret. */
  private throttled(state: SecretState, request: RefreshRequest, waitMs: number): void {
    const { now, logger, metrics } = this.deps.options;
    this.deps.counts.refreshesThrottled = (this.deps.counts.refreshesThrottled ?? 0) + 1;
    metrics.count(MetricNames.RefreshesThrottled);
    const at = now();
    const warn = state.lastThrottleWarnAt === undefined || at - state.lastThrottleWarnAt >= THROTTLE_WARN_INTERVAL_MS;
    if (warn) state.lastThrottleWarnAt = at;
    logger[warn ? 'warn' : 'debug'](
      { code: 'REFRESH_THROTTLED', name: state.name, trigger: request.trigger, waitMs, burst: state.budget.burst, refillIntervalMs: state.budget.refillIntervalMs },
      `invalidations for secret "${state.name}" ask for more reads than its budget allows (a flood, or forged messages): reads wait for the budget, merged; genuine rotations, the poll and auth-failure refreshes still get through`,
    );
  }

  /** Puts `fetched` in place when it is a new version; returns whether it was. */
  private adopt(state: SecretState, fetched: SecretValue, request: RefreshRequest): boolean {
    const { now, logger, metrics } = this.deps.options;
    const value = parseSecretString(fetched.secretString, { name: state.name, secretId: state.spec.secretId, json: state.json, versionId: fetched.versionId });
    const at = now();
    const previousRefreshAt = state.lastRefreshAt;
    state.arn = fetched.arn;
    state.lastRefreshAt = at;
    state.refreshes += 1;
    this.deps.counts.refreshes += 1;
    state.consecutiveFailures = 0;
    if (state.retry && (state.retry.request.kind !== 'version' || state.retry.request.versionId === fetched.versionId)) state.clearRetry();

    const previous = state.held;
    if (previous && previous.source === 'secrets-manager' && previous.versionId === fetched.versionId) return false;
    const next: HeldVersion = { value, versionId: fetched.versionId, secretArn: fetched.arn, source: 'secrets-manager' };
    state.held = next;
    // An AWSPENDING answer cached under the old AWSCURRENT may now be the current version.
    state.pending = undefined;
    if (!previous) return true; // the first load at start is not a rotation

    const latencyMs = Math.max(0, at - request.at);
    metrics.timing(MetricNames.RefreshLatencyMs, latencyMs);
    if (request.trigger === 'poll' && previous.source === 'secrets-manager') this.checkAnnounced(state, fetched.versionId, previousRefreshAt);
    logger.info(
      { name: state.name, versionId: fetched.versionId, previousVersionId: previous.versionId, trigger: request.trigger, latencyMs, source: 'secrets-manager' },
      previous.source === 'env-fallback' ? 'secret loaded from Secrets Manager; env fallback no longer in use' : 'secret rotated',
    );
    this.deps.onRotated({
      name: state.name,
      secretArn: fetched.arn,
      versionId: fetched.versionId,
      previousVersionId: previous.versionId,
      trigger: request.trigger,
      latencyMs,
    });
    return true;
  }

  /**
   * The canary for a broken event pipeline: the poll found a change. Unless an invalidation or a
   * versions-hash entry announces that version within the grace period (the poll may just have
   * beaten an invalidation in flight), count `MissedByEvents`.
   */
  private checkAnnounced(state: SecretState, versionId: string, since: number | undefined): void {
    const decide = (): void => {
      if (state.wasAnnounced(versionId, since)) return;
      this.deps.counts.missedByEvents += 1;
      this.deps.options.metrics.count(MetricNames.MissedByEvents);
      this.deps.options.logger.warn(
        { name: state.name, secretId: state.spec.secretId, versionId },
        'poll found a new version no invalidation announced: check the EventBridge rule, the queue and the worker',
      );
    };
    const grace = this.deps.options.missedByEventsGraceMs;
    if (grace === 0 || state.wasAnnounced(versionId, since)) return decide();
    const timer = setTimeout(() => {
      this.missedChecks.delete(timer);
      decide();
    }, grace);
    timer.unref();
    this.missedChecks.add(timer);
  }

  private fail(state: SecretState, request: RefreshRequest, error: unknown): void {
    // Stopped while waiting for the budget: nothing was read, nothing failed.
    if (error instanceof CacheStoppedError) return;
    const { now, logger, metrics } = this.deps.options;
    state.recordFailure(error, now());
    state.lastCompleted = { at: now(), changed: false };
    this.deps.counts.failures += 1;
    metrics.count(MetricNames.RefreshFailures);
    const retrying = request.trigger !== 'start' && this.deps.isRunning() && state.held !== undefined;
    logger.warn(
      { name: state.name, secretId: state.spec.secretId, trigger: request.trigger, code: state.lastError?.code, failures: state.consecutiveFailures },
      `refresh of secret "${state.name}" failed: ${safeMessage(error)}${state.held ? '; the last good value stays in use' : ''}`,
    );
    if (retrying) this.scheduleRetry(state, request);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
  });
}
