import type { Logger } from '../../common/index.js';
import { MetricNames, type Metrics } from '../../metrics/index.js';
import type { Invalidation } from '../../protocol/index.js';
import { backoffDelay, type BackoffBounds } from './backoff.js';
import { confirmedAt } from './confirmed-at.js';
import { logUnexpected } from './log-unexpected.js';
import { safeMessage, type RefreshRequest, type SecretState } from './secret-state.js';
import type { CacheCounts } from './types.js';

// Reconcile (protocol.md, "Subscriber algorithm", step 2): what to refresh after each
// (re)subscription (planReconcile), when the versions hash itself was lost (LostStateRecovery),
// and the loop that runs them (Reconciler), apart from the cache, which only says when.

export interface ReconcileAction {
  state: SecretState;
  entry: Invalidation;
  /** Undefined: the entry is already reflected (same version held); only remember its id. */
  request: RefreshRequest | undefined;
}

/**
 * What to refresh after (re)subscribing, from the verified entries of `{P}:versions`
 * (protocol.md, "Subscriber algorithm", step 2):
 * - an entry already acted on (same broadcast id, live or at an earlier reconcile) is skipped;
 * - an entry naming a version other than the one held → fetch that version. The hash may be
 *   behind what we hold (a worker outage, a poll that was faster), so the fetch only installs it
 *   when it carries AWSCURRENT and otherwise reads AWSCURRENT once: reconcile never rolls back.
 *   A version a read already found not current after the entry was published costs nothing
 *   (`SecretState.knownNotCurrent`): the reconciles of a reconnect storm over a stale entry read once;
 * - an entry without a version → one AWSCURRENT read if it was published after our last fetch.
 */
export function planReconcile(states: Iterable<SecretState>, entries: ReadonlyMap<string, Invalidation>, now: number): ReconcileAction[] {
  const actions: ReconcileAction[] = [];
  for (const state of states) {
    const entry = entryFor(state, entries);
    if (!entry || entry.id === state.lastInvalidationId) continue;
    if (entry.versionId !== undefined) {
      const request: RefreshRequest | undefined =
        entry.versionId === state.held?.versionId || state.knownNotCurrent(entry.versionId, Date.parse(entry.publishedAt))
          ? undefined
          : { kind: 'version', versionId: entry.versionId, ifNotCurrent: 'read-current', trigger: 'reconcile', at: now };
      actions.push({ state, entry, request });
      continue;
    }
    const publishedAt = Date.parse(entry.publishedAt);
    const stale = state.lastRefreshAt === undefined || !(publishedAt <= state.lastRefreshAt);
    actions.push({ state, entry, request: stale ? { kind: 'current', trigger: 'reconcile', at: now } : undefined });
  }
  return actions;
}

/** The entry for `state`: its exact ARN when known, else the newest entry whose ARN matches its secretId. */
function entryFor(state: SecretState, entries: ReadonlyMap<string, Invalidation>): Invalidation | undefined {
  if (state.arn !== undefined) {
    const exact = entries.get(state.arn);
    if (exact) return exact;
  }
  let newest: Invalidation | undefined;
  for (const [arn, entry] of entries) {
    if (!state.matches(arn)) continue;
    if (!newest || Date.parse(entry.publishedAt) > Date.parse(newest.publishedAt)) newest = entry;
  }
  return newest;
}

/** What a reconcile read from `{P}:versions`: the verified entries, and how many were skipped. */
export interface VersionsRead {
  entries: ReadonlyMap<string, Invalidation>;
  /** Entries that did not parse or verify: they exist, so the secret they are for is not "missing". */
  rejected: number;
}

/**
 * Which secrets have an entry in `{P}:versions` now (`present`), and which lost the one this
 * instance saw there before (`lost`: `versionsEntrySeen` set and no entry now). A secret never
 * seen there is neither: an empty hash is also what a new deployment or a secret that never
 * rotated looks like. When any entry was skipped (corrupt, or signed with a key we do not accept)
 * nobody is declared lost: the hash does not say which secret a skipped entry is for, so the
 * missing entry may be that one, and a stale or forged entry is no sign of lost state.
 */
export function planLostState(states: Iterable<SecretState>, versions: VersionsRead): { present: SecretState[]; lost: SecretState[] } {
  const present: SecretState[] = [];
  const lost: SecretState[] = [];
  for (const state of states) {
    if (entryFor(state, versions.entries)) present.push(state);
    else if (state.versionsEntrySeen && versions.rejected === 0) lost.push(state);
  }
  return { present, lost };
}

/**
 * Upper bound of the random delay before a lost-state reread. A Redis restart or failover drops
 * every instance of a fleet at once, and they all reconnect and find the hash empty within the
 * same second: spread uniformly over this window their reads do not arrive at Secrets Manager
 * together, and the instance still holds the new version well inside the 5 s the project promises.
 */
export const DEFAULT_LOST_STATE_JITTER_MS = 1_000;

export interface LostStateRecoveryDeps {
  /** Rereads wait a uniform random 0..jitterMs. @defaultValue {@link DEFAULT_LOST_STATE_JITTER_MS} */
  jitterMs?: number;
  /** Starts one refresh nobody awaits (the cache's background refresh). */
  reread: (state: SecretState, request: RefreshRequest) => void;
  /** False once the cache is stopping: a reread still waiting for its jitter is dropped. */
  isRunning: () => boolean;
  counts: CacheCounts;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
  /** Source of the jitter, in [0, 1). @defaultValue Math.random */
  random?: () => number;
}

/**
 * Notices lost versions state and rereads AWSCURRENT for what it lost. The worker stores every
 * broadcast in `{P}:versions` in the same script that publishes it (protocol.md, "Publish
 * semantics"), so reconcile finds what a disconnected instance missed — unless the hash went with
 * it (a Redis restart without persistence, a failover to a replica that had not caught up, a
 * FLUSHALL). Then reconcile finds nothing and, without this, the instance would keep the old
 * version until its poll (30 min by default), silently.
 *
 * Bounded: one reread per secret per loss. Finding a secret lost clears its mark, and only the
 * hash showing that secret again (a reconcile finding its entry, or a verified broadcast, which
 * the worker stored there) re-arms it — so the reconciles of a reconnect storm over the same
 * empty hash read nothing more. Each loss is counted once (`VersionsStateLost`, and
 * `status().counts.versionsStateLost`) and logged once as a warning naming the secrets.
 */
export class LostStateRecovery {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly jitterMs: number;
  private readonly random: () => number;

  constructor(private readonly deps: LostStateRecoveryDeps) {
    this.jitterMs = deps.jitterMs ?? DEFAULT_LOST_STATE_JITTER_MS;
    this.random = deps.random ?? Math.random;
  }

  /** A verified broadcast for `state` arrived: the worker stored it in `{P}:versions` as it sent it. */
  sawBroadcast(state: SecretState): void {
    state.versionsEntrySeen = true;
  }

  /** After a reconcile read `{P}:versions`: re-arms what is there, schedules a reread of what was lost. Returns the lost. */
  check(states: Iterable<SecretState>, versions: VersionsRead): SecretState[] {
    const { present, lost } = planLostState(states, versions);
    for (const state of present) state.versionsEntrySeen = true;
    if (lost.length === 0) return lost;
    for (const state of lost) state.versionsEntrySeen = false;
    const { counts, logger, metrics, now } = this.deps;
    counts.versionsStateLost = (counts.versionsStateLost ?? 0) + 1;
    metrics.count(MetricNames.VersionsStateLost);
    const delay = Math.floor(this.random() * this.jitterMs);
    logger.warn(
      { code: 'VERSIONS_STATE_LOST', names: lost.map((state) => state.name), secretIds: lost.map((state) => state.spec.secretId), hashEmpty: versions.entries.size === 0, rereadInMs: delay },
      'the versions hash lost entries this instance saw there (Redis restart, failover or flush): rereading AWSCURRENT of those secrets once, as a broadcast sent meanwhile cannot be reconciled',
    );
    const detectedAt = now();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.deps.isRunning()) return;
      for (const state of lost) {
        // A read that completed since (a broadcast that repopulated the hash, a poll) already
        // has an answer at least as new as the one this read would get.
        if (state.lastRefreshAt !== undefined && state.lastRefreshAt > detectedAt) continue;
        this.deps.reread(state, { kind: 'current', trigger: 'reconcile', at: detectedAt });
      }
    }, delay);
    timer.unref();
    this.timers.add(timer);
    return lost;
  }

  /** Drops rereads still waiting for their jitter (the cache is stopping). */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

export interface ReconcilerDeps {
  states: ReadonlyMap<string, SecretState>;
  /** The listener's normal connection, once the listener exists. */
  listener: () => { readVersions(): Promise<VersionsRead> } | undefined;
  /** The initial load, once started: a reconcile needs to know what is held. */
  initialLoad: () => Promise<unknown> | undefined;
  /** False once the cache is stopping. */
  isRunning: () => boolean;
  /** Starts one refresh nobody awaits (the cache's background refresh). */
  refresh: (state: SecretState, request: RefreshRequest) => void;
  signingKeys: readonly string[];
  backoff: BackoffBounds;
  lostStateJitterMs: number;
  counts: CacheCounts;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
}

/**
 * After every (re)subscription: read `{P}:versions` on the normal connection and refresh what
 * is stale. Runs after the initial load (a reconcile needs to know what is held), coalesces
 * overlapping calls, and retries with backoff when Redis cannot be read.
 */
export class Reconciler {
  private readonly lostState: LostStateRecovery;
  private running = false;
  private again = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ReconcilerDeps) {
    this.lostState = new LostStateRecovery({
      reread: deps.refresh,
      isRunning: deps.isRunning,
      counts: deps.counts,
      now: deps.now,
      logger: deps.logger,
      metrics: deps.metrics,
      jitterMs: deps.lostStateJitterMs,
    });
  }

  /** Starts a reconcile, or asks the running one to go again; never rejects. */
  reconcile(): void {
    this.run().catch((error: unknown) => logUnexpected(this.deps.logger, 'reconcile', error));
  }

  /** A verified broadcast for `state` arrived: see {@link LostStateRecovery.sawBroadcast}. */
  sawBroadcast(state: SecretState): void {
    this.lostState.sawBroadcast(state);
  }

  /** Drops the retry and the lost-state rereads still waiting (the cache is stopping). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.lostState.stop();
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        await this.deps.initialLoad()?.catch(() => undefined);
        const listener = this.deps.listener();
        if (!this.deps.isRunning() || !listener) return;
        await this.once(listener);
      } while (this.again && this.deps.isRunning());
    } finally {
      this.running = false;
    }
  }

  private async once(listener: { readVersions(): Promise<VersionsRead> }): Promise<void> {
    const { states, logger, signingKeys } = this.deps;
    let versions;
    try {
      versions = await listener.readVersions();
    } catch (error) {
      this.failures += 1;
      const delay = backoffDelay(this.failures, this.deps.backoff);
      logger.warn({ code: 'RECONCILE_FAILED', retryInMs: delay }, `reconcile could not read the versions hash: ${safeMessage(error)}`);
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reconcile(), delay);
      this.timer.unref();
      return;
    }
    this.failures = 0;
    if (versions.rejected > 0) logger.warn({ rejected: versions.rejected }, 'versions hash entries skipped: corrupt or not signed with an accepted key');
    for (const { state, entry, request } of planReconcile(states.values(), versions.entries, this.deps.now())) {
      // Not remembered as handled: if the same broadcast then arrives live ("at worst you see it
      // twice"), its version is held and it costs nothing, or the reconcile's read missed it (a
      // label move not visible yet) and the live message's wait for the change is wanted.
      state.lastInvalidationId = entry.id;
      if (!request) continue;
      if (entry.versionId !== undefined) state.announce(entry.versionId);
      const confirmed = request.kind === 'version' ? confirmedAt(entry, signingKeys) : undefined;
      this.deps.refresh(state, request.kind === 'version' && confirmed !== undefined ? { ...request, confirmedAt: confirmed } : request);
    }
    // An empty hash (or one missing a secret seen there) is no proof nothing changed: see LostStateRecovery.
    this.lostState.check(states.values(), versions);
  }
}
