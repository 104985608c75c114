import type { Logger } from '../../common/index.js';
import type { Invalidation } from '../../protocol/index.js';
import { confirmedAt } from './confirmed-at.js';
import type { Refresher } from './refresher.js';
import type { RefreshRequest, SecretState } from './secret-state.js';
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
  refresher: Pick<Refresher, 'submit' | 'refresh'>;
  counts: CacheCounts;
  signingKeys: readonly string[];
  now: () => number;
  logger: Logger;
  /** A verified broadcast for `state` arrived (LostStateRecovery re-arms on it). */
  sawBroadcast: (state: SecretState) => void;
  /** A signed broadcast's `terminateOld`, once its refresh settled: emit the cache's `revoked`. */
  revoke: (state: SecretState) => void;
}

/** Turns verified invalidations into (merged, paced) refresh requests. */
export class RefreshQueue {
  /** The last verified invalidation received, whether or not it named a configured secret. */
  last: LastInvalidation | undefined;
  private warnedUnsignedTerminate = false;

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
   *
   * `terminateOld` (an emergency revoke) is acted on only when signing is on: every accepted
   * message's signatures, `xsig` included, then verified, so the flag is the worker's or the
   * CLI's. Unsigned, anyone who can publish could cut every connection of the fleet; the flag is
   * then ignored (logged) and the message handled like any other.
   */
  onInvalidation(invalidation: Invalidation): void {
    const { states, refresher, counts, logger } = this.deps;
    const terminateOld = this.terminateOld(invalidation);
    const at = this.deps.now();
    counts.invalidationsReceived += 1;
    this.last = { at, secretName: invalidation.secretName, ...(invalidation.versionId !== undefined ? { versionId: invalidation.versionId } : {}) };
    for (const state of states.values()) {
      if (!state.matches(invalidation.secretArn)) continue;
      if (!state.handle(invalidation.id)) continue;
      state.lastInvalidationId = invalidation.id;
      this.deps.sawBroadcast(state);
      logger.debug({ name: state.name, versionId: invalidation.versionId, id: invalidation.id }, 'invalidation received');
      let request: RefreshRequest | undefined;
      if (invalidation.versionId !== undefined) {
        state.announce(invalidation.versionId);
        if (!state.knownNotCurrent(invalidation.versionId, Date.parse(invalidation.publishedAt))) {
          const confirmed = confirmedAt(invalidation, this.deps.signingKeys);
          request = {
            kind: 'version',
            versionId: invalidation.versionId,
            ifNotCurrent: 'wait-for-change',
            trigger: 'invalidation',
            at,
            ...(confirmed !== undefined ? { confirmedAt: confirmed } : {}),
          };
        }
      } else {
        state.announcedUnversionedAt = at;
        request = { kind: 'changed', trigger: 'invalidation', at };
      }
      if (terminateOld) void this.refreshThenRevoke(state, request);
      else if (request) refresher.submit(state, request);
    }
  }

  /**
   * An emergency revoke: the same refresh, awaited, then the revoke on what is held — also when
   * the read failed or found nothing new (the usual case: the cache already switched on the
   * rotation's own broadcast, and the old connections are still draining). A signed message id is
   * handled once, so a replay revokes nothing more.
   */
  private async refreshThenRevoke(state: SecretState, request: RefreshRequest | undefined): Promise<void> {
    try {
      if (request) await this.deps.refresher.refresh(state, request);
    } catch {
      // Recorded, logged and retried by the refresher; the revoke still applies to what is held.
    }
    this.deps.revoke(state);
  }

  private terminateOld(invalidation: Invalidation): boolean {
    if (invalidation.terminateOld !== true) return false;
    if (this.deps.signingKeys.length > 0) return true;
    // Whoever can publish decides how many such messages arrive: warn once, then at debug.
    const level = this.warnedUnsignedTerminate ? 'debug' : 'warn';
    this.warnedUnsignedTerminate = true;
    this.deps.logger[level](
      { code: 'TERMINATE_OLD_UNSIGNED', secretName: invalidation.secretName, id: invalidation.id },
      'an unsigned invalidation asks to terminate old connections (terminateOld): ignored, as nothing proves who sent it; refreshing as for any invalidation',
    );
    return false;
  }
}
