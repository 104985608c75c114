import { secretIdMatches, type SecretValue } from '../../secrets/index.js';
import { RotationRelayError } from '../../common/index.js';
import { RecentMemory } from './recent-memory.js';
import { RefreshBudget } from './refresh-budget.js';
import { SingleFlight } from './single-flight.js';
import { RefreshSlot } from './waiting-refresh.js';
import type { CredentialVersion, RefreshTrigger, SecretSpec, SecretStatus } from './types.js';

/** The value in use for one secret, with where it came from. `value` is never logged. */
export interface HeldVersion {
  value: unknown;
  versionId: string;
  /** The full ARN once Secrets Manager answered; the configured secretId for an env fallback. */
  secretArn: string;
  source: 'secrets-manager' | 'env-fallback';
}

/**
 * What to fetch for one trigger:
 * - `current`: one read of AWSCURRENT (poll, auth failure, forceRefresh, retries);
 * - `changed`: an invalidation without a versionId — re-read AWSCURRENT until it differs from the
 *   version held when the request was made, bounded by `consistencyWindowMs`;
 * - `version`: an invalidation or versions-hash entry naming the new version — read exactly that
 *   version. It is adopted only if it carries AWSCURRENT (a replayed or stale message must never
 *   install an old credential). Otherwise AWSCURRENT is read instead, once or until it changes
 *   (`ifNotCurrent`). A version found missing, or labelled neither AWSCURRENT nor AWSPENDING, is
 *   remembered (`knownNotCurrent`). `confirmedAt` (see below) lets an AWSPENDING value already
 *   read stand in for that read.
 */
export type RefreshRequest = { trigger: RefreshTrigger; at: number } & (
  | { kind: 'current' }
  | { kind: 'changed' }
  | {
      kind: 'version';
      versionId: string;
      /**
       * When the version read is not AWSCURRENT: `read-current` reads AWSCURRENT once;
       * `wait-for-change` re-reads it until it changes if the version is AWSPENDING (a label move
       * not visible yet), else once; `until-changed` (a `changed` request merged in) re-reads it
       * until it changes whatever the version's labels.
       */
      ifNotCurrent: 'wait-for-change' | 'read-current' | 'until-changed';
      /**
       * When the worker confirmed `versionId` as AWSCURRENT: the `publishedAt` (epoch ms) of a
       * broadcast whose signature verified. Undefined for unsigned broadcasts (nothing proves
       * who sent them). With it, a value this cache read as AWSPENDING *before* that moment is
       * adopted without reading the version again (see `Refresher`).
       */
      confirmedAt?: number;
    }
);

export interface PendingEntry {
  /** The version held when it was fetched: a rotation makes the answer stale. */
  heldVersionId: string | undefined;
  /** When the AWSPENDING read was sent (the cache's clock). */
  requestedAt: number;
  /** Until the read settles this is Infinity (joiners share it); then settle time + TTL. */
  expiresAt: number;
  promise: Promise<CredentialVersion | undefined>;
  /** The version read, with its labels as that read saw them, once the read succeeded. */
  fetched?: SecretValue;
}

/** How much refresh work one secret may cause, and for how long it remembers what it learned. */
export interface RefreshLimits {
  /** Token bucket of invalidation-driven reads (see `RefreshBudget`). */
  burst: number;
  refillIntervalMs: number;
  /** How long a version found not current (or missing) is remembered. */
  rememberVersionsMs: number;
  /** How long a handled message id is remembered: the longest a replay of it can be accepted. */
  rememberIdsMs: number;
  /**
   * A remembered version is skipped only for messages published at least this long before it was
   * found not current (the clock-skew tolerance: the worker's clock and ours may differ by it).
   */
  publishedMarginMs: number;
  now: () => number;
}

/** Versions and ids remembered per secret: a flood of distinct ones evicts, never grows. */
export const REMEMBERED_PER_SECRET = 256;

export const DEFAULT_REFRESH_LIMITS: RefreshLimits = {
  burst: 3,
  refillIntervalMs: 500,
  rememberVersionsMs: 300_000,
  rememberIdsMs: 300_000,
  publishedMarginMs: 30_000,
  now: () => Date.now(),
};

/** Everything the cache knows about one logical secret. Metadata only leaves through `status()`. */
export class SecretState {
  held: HeldVersion | undefined;
  /** Full ARN as Secrets Manager returned it; the most precise key for matching invalidations. */
  arn: string | undefined;
  readonly flight = new SingleFlight<void>();
  /** At most one read in flight and one request waiting (see `RefreshSlot`). */
  readonly slot = new RefreshSlot();
  /** Reads that invalidations and reconciles may cause (see `RefreshBudget`). */
  readonly budget: RefreshBudget;
  /** Last successful read, any trigger. */
  lastRefreshAt: number | undefined;
  /** Last refresh that finished, successfully or not: the auth-failure rate limit looks at it. */
  lastCompleted: { at: number; changed: boolean } | undefined;
  lastError: { code: string; message: string; at: number } | undefined;
  refreshes = 0;
  failures = 0;
  consecutiveFailures = 0;
  retry: { timer: NodeJS.Timeout; at: number; request: RefreshRequest } | undefined;
  /** Id of the last broadcast acted on (live or from the versions hash): reconcile skips it. */
  lastInvalidationId: string | undefined;
  /**
   * `{P}:versions` held an entry for this secret since the last time it was found lost: seen at a
   * reconcile, or implied by a verified broadcast (the worker stores each in the hash). Only a
   * secret seen there can be found missing from it (see `LostStateRecovery`).
   */
  versionsEntrySeen = false;
  /** When an invalidation without a versionId last named this secret. */
  announcedUnversionedAt: number | undefined;
  pending: PendingEntry | undefined;
  /** When the last "reads throttled" warning for this secret was logged. */
  lastThrottleWarnAt: number | undefined;
  readonly #announced: string[] = [];
  /** Versions a read found not current (no AWSCURRENT, no AWSPENDING) or missing: when, by our clock. */
  readonly #notCurrent: RecentMemory<number>;
  /** Ids of live broadcasts already acted on: a replay of one costs nothing. */
  readonly #handledIds: RecentMemory<true>;
  readonly #publishedMarginMs: number;
  readonly #now: () => number;

  constructor(
    readonly name: string,
    readonly spec: SecretSpec,
    limits: RefreshLimits = DEFAULT_REFRESH_LIMITS,
  ) {
    this.budget = new RefreshBudget(limits.burst, limits.refillIntervalMs, limits.now);
    this.#notCurrent = new RecentMemory(REMEMBERED_PER_SECRET, limits.rememberVersionsMs, limits.now);
    this.#handledIds = new RecentMemory(REMEMBERED_PER_SECRET, limits.rememberIdsMs, limits.now);
    this.#publishedMarginMs = limits.publishedMarginMs;
    this.#now = limits.now;
  }

  /** Remember that a read found `versionId` missing or labelled neither AWSCURRENT nor AWSPENDING. */
  rememberNotCurrent(versionId: string): void {
    this.#notCurrent.remember(versionId, this.#now());
  }

  /**
   * Does a message naming `versionId`, published at `publishedAt` (epoch ms), cost no read? Only
   * when a read found that version not current *after* the message was published: a replayed or
   * stale message, whose version a read already judged. A message published later may announce a
   * genuine move of AWSCURRENT onto it (a roll-back), so it is read again.
   */
  knownNotCurrent(versionId: string, publishedAt: number): boolean {
    const foundAt = this.#notCurrent.get(versionId);
    return foundAt !== undefined && Number.isFinite(publishedAt) && publishedAt + this.#publishedMarginMs <= foundAt;
  }

  /** Records a broadcast id as handled; false if it already was (a replay: nothing to do). */
  handle(id: string): boolean {
    if (this.#handledIds.has(id)) return false;
    this.#handledIds.remember(id, true);
    return true;
  }

  get json(): boolean {
    return this.spec.json ?? false;
  }

  /** Does an invalidation for `secretArn` concern this secret? */
  matches(secretArn: string): boolean {
    return this.arn === secretArn || secretIdMatches(this.spec.secretId, secretArn);
  }

  /** Remember that the event pipeline announced `versionId` (the MissedByEvents check asks). */
  announce(versionId: string): void {
    if (this.#announced.includes(versionId)) return;
    this.#announced.push(versionId);
    // A handful is plenty: only versions announced since the last poll matter.
    if (this.#announced.length > 16) this.#announced.shift();
  }

  /** Was `versionId` announced by an invalidation, or any change announced since `since`? */
  wasAnnounced(versionId: string, since: number | undefined): boolean {
    if (this.#announced.includes(versionId)) return true;
    return this.announcedUnversionedAt !== undefined && (since === undefined || this.announcedUnversionedAt >= since);
  }

  current(): CredentialVersion {
    if (!this.held) throw new Error(`secret "${this.name}" has no value`);
    return { value: this.held.value, versionId: this.held.versionId, secretArn: this.held.secretArn };
  }

  recordFailure(error: unknown, now: number): void {
    this.failures += 1;
    this.consecutiveFailures += 1;
    const code = error instanceof RotationRelayError ? error.code : 'REFRESH_FAILED';
    this.lastError = { code, message: safeMessage(error), at: now };
  }

  clearRetry(): void {
    if (this.retry) clearTimeout(this.retry.timer);
    this.retry = undefined;
  }

  /** The cache stops: the retry timer goes, and a request still waiting (for the read in flight, or for the budget) is dropped with `reason`; the read in flight finishes. */
  stop(reason: Error): void {
    this.clearRetry();
    this.slot.clear(reason);
  }

  /** This secret's part of `status()`: metadata only, by construction (no field holds a value). */
  status(now: number): SecretStatus {
    const status: SecretStatus = {
      secretId: this.spec.secretId,
      source: this.held?.source ?? 'none',
      refreshes: this.refreshes,
      failures: this.failures,
    };
    if (this.arn !== undefined) status.secretArn = this.arn;
    if (this.held !== undefined) status.versionId = this.held.versionId;
    if (this.lastRefreshAt !== undefined) status.lastRefreshAt = new Date(this.lastRefreshAt).toISOString();
    if (this.lastError !== undefined) {
      status.lastError = { code: this.lastError.code, message: this.lastError.message, at: new Date(this.lastError.at).toISOString() };
    }
    if (this.retry !== undefined) status.nextRetryInMs = Math.max(0, this.retry.at - now);
    return status;
  }
}

/**
 * Our own errors carry messages written to be safe; a foreign error (a bug, a library) is reduced
 * to its class name, because its message might quote a value.
 */
export function safeMessage(error: unknown): string {
  if (error instanceof RotationRelayError) return error.message;
  return error instanceof Error ? `${error.name} (details withheld)` : 'unknown error';
}
