import type { Logger } from '../../common/index.js';
import type { Invalidation } from '../../protocol/index.js';
import { confirmedAt } from './confirmed-at.js';
import type { Refresher } from './refresher.js';
import type { SecretState } from './secret-state.js';
import type { CacheCounts } from './types.js';

// Its own file because this is the one path on which a publisher, not the cache, decides how
// much work there is: what it accepts and how it bounds that belongs together, apart from the
// cache's lifecycle and reads.

/** The last verified invalidation, for `status().pubsub`. */
export interface LastInvalidation {
  at: number;
  secretName: string;
  versionId?: string;
}

export interface RefreshQueueDeps {
  states: ReadonlyMap<string, SecretState>;
  refresher: Pick<Refresher, 'submit'>;
  counts: CacheCounts;
  signingKeys: readonly string[];
  now: () => number;
  logger: Logger;
  /** A verified broadcast for `state` arrived (LostStateRecovery re-arms on it). */
  sawBroadcast: (state: SecretState) => void;
}

/** Turns verified invalidations into (merged, paced) refresh requests. */
export class RefreshQueue {
  /** The last verified invalidation received, whether or not it named a configured secret. */
  last: LastInvalidation | undefined;

  constructor(private readonly deps: RefreshQueueDeps) {}

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
  onInvalidation(invalidation: Invalidation): void {
    const { states, refresher, counts, logger } = this.deps;
    const at = this.deps.now();
    counts.invalidationsReceived += 1;
    this.last = { at, secretName: invalidation.secretName, ...(invalidation.versionId !== undefined ? { versionId: invalidation.versionId } : {}) };
    for (const state of states.values()) {
      if (!state.matches(invalidation.secretArn)) continue;
      if (!state.handle(invalidation.id)) continue;
      state.lastInvalidationId = invalidation.id;
      this.deps.sawBroadcast(state);
      logger.debug({ name: state.name, versionId: invalidation.versionId, id: invalidation.id }, 'invalidation received');
      if (invalidation.versionId !== undefined) {
        state.announce(invalidation.versionId);
        if (state.knownNotCurrent(invalidation.versionId, Date.parse(invalidation.publishedAt))) continue;
        const confirmed = confirmedAt(invalidation, this.deps.signingKeys);
        refresher.submit(state, {
          kind: 'version',
          versionId: invalidation.versionId,
          ifNotCurrent: 'wait-for-change',
          trigger: 'invalidation',
          at,
          ...(confirmed !== undefined ? { confirmedAt: confirmed } : {}),
        });
      } else {
        state.announcedUnversionedAt = at;
        refresher.submit(state, { kind: 'changed', trigger: 'invalidation', at });
      }
    }
  }
}
