import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MetricNames } from '../metrics/index.js';
import { getSecretValue, type SecretValue, type SecretVersionSelector } from '../secrets/get-secret-value.js';
import { backoffDelay } from './backoff.js';
import type { ResolvedCacheOptions } from './options.js';
import { parseSecretString } from './parse-secret.js';
import { safeMessage, type HeldVersion, type RefreshRequest, type SecretState } from './secret-state.js';
import type { CacheCounts, RotatedEvent } from './types.js';

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
}

/** First and longest pause between two AWSCURRENT reads while waiting for a label move to show. */
const CHANGE_POLL_FIRST_PAUSE_MS = 100;
const CHANGE_POLL_MAX_PAUSE_MS = 500;

/**
 * Reads secrets and puts new versions in place: the single-flight rule, the three fetch
 * strategies of `RefreshRequest`, failure bookkeeping and retries with backoff. The cache decides
 * *when* to refresh; this decides *how*, and makes sure one change costs one GetSecretValue.
 */
export class Refresher {
  private readonly missedChecks = new Set<NodeJS.Timeout>();

  constructor(private readonly deps: RefresherDeps) {}

  /** Cancels pending MissedByEvents checks (the cache is stopping). */
  close(): void {
    for (const timer of this.missedChecks) clearTimeout(timer);
    this.missedChecks.clear();
  }

  /**
   * Refreshes one secret for one trigger. Joins a refresh already running for it; once that one
   * settled, the request is done if what it asked for holds (the named version is in place, a
   * change happened, or — for a plain AWSCURRENT read — the shared read finished), otherwise it
   * runs its own. Rejects with the typed error when its read failed (already recorded and, except
   * at start, retried in the background).
   */
  async refresh(state: SecretState, request: RefreshRequest): Promise<RefreshResult> {
    const base = state.held?.versionId;
    if (request.kind === 'version' && base === request.versionId) return { changed: false };
    for (let running = state.flight.inFlight; running; running = state.flight.inFlight) {
      let failure: { error: unknown } | undefined;
      try {
        await running.promise;
      } catch (error) {
        failure = { error };
      }
      const held = state.held?.versionId;
      if (request.kind === 'current') {
        if (failure) throw failure.error;
        return { changed: held !== base };
      }
      if (request.kind === 'changed' && held !== base) return { changed: true };
      if (request.kind === 'version' && held === request.versionId) return { changed: held !== base };
    }
    await state.flight.run(() => this.execute(state, request, base), this.deps.options.now());
    return { changed: state.held?.versionId !== base };
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

  private async execute(state: SecretState, request: RefreshRequest, base: string | undefined): Promise<void> {
    let changed = false;
    try {
      const fetched = await this.fetch(state, request, base);
      changed = this.adopt(state, fetched, request);
    } catch (error) {
      this.fail(state, request, error);
      throw error;
    }
    state.lastCompleted = { at: this.deps.options.now(), changed };
  }

  private async fetch(state: SecretState, request: RefreshRequest, base: string | undefined): Promise<SecretValue> {
    if (request.kind === 'current') return this.get(state, { versionStage: 'AWSCURRENT' });
    if (request.kind === 'changed') return this.readUntilChanged(state, base);
    const confirmed = await this.confirmedPending(state, request);
    if (confirmed) return confirmed;
    const named = await this.get(state, { versionId: request.versionId });
    // Only a version labelled AWSCURRENT is adopted. A version with no label at all is a
    // deprecated one (AWS keeps it readable by id until it deletes it): adopting it because there
    // is "nothing to judge by" would let a replayed genuine message install an old credential.
    if (named.versionStages.includes('AWSCURRENT')) return named;
    this.deps.options.logger.debug(
      { name: state.name, versionId: request.versionId, trigger: request.trigger },
      'the version an invalidation named is not AWSCURRENT (stale, replayed or not yet visible); reading AWSCURRENT instead',
    );
    return request.ifNotCurrent === 'read-current' ? this.get(state, { versionStage: 'AWSCURRENT' }) : this.readUntilChanged(state, base);
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
   */
  private async readUntilChanged(state: SecretState, base: string | undefined): Promise<SecretValue> {
    const { now, consistencyWindowMs } = this.deps.options;
    const deadline = now() + consistencyWindowMs;
    let pause = CHANGE_POLL_FIRST_PAUSE_MS;
    for (;;) {
      const fetched = await this.get(state, { versionStage: 'AWSCURRENT' });
      const remaining = deadline - now();
      if (fetched.versionId !== base || remaining <= 0 || !this.deps.isRunning()) return fetched;
      await sleep(Math.min(pause, remaining));
      pause = Math.min(pause * 2, CHANGE_POLL_MAX_PAUSE_MS);
    }
  }

  private get(state: SecretState, selector: SecretVersionSelector): Promise<SecretValue> {
    return getSecretValue(this.deps.client, state.spec.secretId, selector);
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
