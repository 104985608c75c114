import type { LastInvalidation } from './refresh-queue.js';
import type { SecretState } from './secret-state.js';
import type { CacheCounts, CacheStatus, PresenceStatus } from './types.js';

// Its own file so what `status()` shows is assembled in one place from the parts that know it,
// and so it is easy to see that every field is metadata: nothing here can reach a value.

/** The counters of `status().counts`, all zero; `pubsub`: whether `redis` is configured. */
export function newCounts(pubsub: boolean): CacheCounts {
  const counts: CacheCounts = { refreshes: 0, failures: 0, authRecoveries: 0, missedByEvents: 0, invalidationsReceived: 0, invalidationsRejected: 0 };
  // Reconcile (and so lost state) and the read budget (it holds back only invalidation- and
  // reconcile-driven reads) exist only with pub/sub: without `redis` these counts stay absent.
  if (pubsub) {
    counts.versionsStateLost = 0;
    counts.refreshesThrottled = 0;
  }
  return counts;
}

/** What `status()` is assembled from; read in this order, as the parts were read before. */
export interface StatusSources {
  now: number;
  running: boolean;
  pollIntervalMs: number;
  states: ReadonlyMap<string, SecretState>;
  /** Whether `redis` is configured (pub/sub on). */
  pubsubEnabled: boolean;
  listener: { readonly connected: boolean } | undefined;
  signingKeys: readonly string[];
  lastInvalidation: LastInvalidation | undefined;
  poll: { nextInMs(): number | undefined };
  presence: { status(): PresenceStatus } | undefined;
  counts: CacheCounts;
}

/** What operators need to know, never a value: every field is metadata by construction. */
export function assembleStatus(from: StatusSources): CacheStatus {
  const secrets: CacheStatus['secrets'] = {};
  for (const [name, state] of from.states) secrets[name] = state.status(from.now);
  const pubsub: CacheStatus['pubsub'] = { enabled: from.pubsubEnabled, connected: from.listener?.connected ?? false };
  if (from.pubsubEnabled) pubsub.signing = from.signingKeys.length > 0 ? 'verified' : 'unsigned';
  const last = from.lastInvalidation;
  if (last) {
    pubsub.lastInvalidationAt = new Date(last.at).toISOString();
    pubsub.lastInvalidation = { secretName: last.secretName, ...(last.versionId !== undefined ? { versionId: last.versionId } : {}) };
  }
  const nextPollInMs = from.poll.nextInMs();
  return {
    running: from.running,
    pollIntervalMs: from.pollIntervalMs,
    ...(nextPollInMs !== undefined ? { nextPollInMs } : {}),
    pubsub,
    secrets,
    ...(from.presence ? { presence: from.presence.status() } : {}),
    counts: { ...from.counts },
  };
}
