import type { Logger } from '../../common/index.js';
import type { CredentialSource, CredentialVersion } from './types.js';

// The one auth-failure recovery policy, for every connection that authenticates with a rotating
// secret: the pg and mysql2 pools and the mailer (sdk/rotating/rotating-resource.ts), the ioredis and
// node-redis clients (sdk/rotating/redis-credential-follower.ts) and the cache's own Redis connection
// (redis-password-follower.ts).
// Here: the decision sequence and its bookkeeping. Not here: how each client makes the next
// attempt use other credentials (a new generation, ioredis options) and how it retries.
// Its home is subscriber/ because that is where CredentialSource lives: clients/ already depends
// on it, and the cache's own connection can use it without importing clients/.

/** `pending`: built from AWSPENDING during a single-user rotation's setSecret → finishSecret window. */
export type CredentialMode = 'current' | 'pending';

/** Secrets Manager reads a recovery made, for a client's stats (each is at most one read: the source rate-limits). */
export interface RecoveryCounts {
  reportAuthFailureCalls: number;
  pendingReads: number;
}

/** What recovers with: the source's shared, rate-limited refresh of AWSCURRENT, and its (cached) AWSPENDING read. */
export type RecoverySource = Pick<CredentialSource, 'reportAuthFailure'> & Partial<Pick<CredentialSource, 'pending'>>;

export interface AuthFailure<C> {
  source: RecoverySource;
  /** Logical secret name in the source. */
  name: string;
  /** The version whose credentials the server rejected. */
  failedVersionId: string;
  /**
   * Refresh AWSCURRENT first. False goes straight to AWSPENDING: the caller already refreshed,
   * and the refreshed AWSCURRENT was rejected too.
   */
  refresh: boolean;
  /**
   * Try AWSPENDING when AWSCURRENT offers nothing new (`source.pending` is then required). Off
   * only for a connection that keeps no version or mode, so could not tell when to leave AWSPENDING.
   */
  awsPending: boolean;
  /** Has the connection left the failed version meanwhile (a `rotated` event, another recovery)? */
  movedOn(): boolean;
  /** Makes the next attempt use `version`. May throw (a malformed value): the recovery then ends as `failed`. */
  switchTo(version: CredentialVersion<C>, mode: CredentialMode): void;
  counts: RecoveryCounts;
  logger: Logger;
  /** Prefix of the policy's log lines, naming the client (e.g. `rotating redis`). */
  label: string;
}

/**
 * - `switched`: this recovery put other credentials in use; count a recovery at the next success.
 * - `overtaken`: something else moved past the failed version meanwhile; retry on what is in use.
 * - `exhausted`: neither AWSCURRENT nor AWSPENDING offers other credentials.
 * - `failed`: a read (or the switch) threw; the caller says so and checks whether it moved on anyway.
 *
 * `sourceChanged`: what the refresh reported (false without one): did AWSCURRENT change in the source.
 */
export type RecoveryOutcome = { kind: 'switched' | 'overtaken' | 'exhausted'; sourceChanged: boolean } | { kind: 'failed'; error: unknown };

/**
 * The sequence, once per failed login (the caller shares one run among the connections failing
 * together): refresh AWSCURRENT; if it moved, use it. Otherwise read AWSPENDING: a version other
 * than the failed one means a single-user rotation is between setSecret and finishSecret, whose
 * new password the server already has; use it until AWSCURRENT catches up. Nothing else: retrying
 * the same credentials only adds failed logins, and the caller retries at most once per outcome.
 */
export async function recoverCredentials<C>(failure: AuthFailure<C>): Promise<RecoveryOutcome> {
  const { source, name, failedVersionId, counts } = failure;
  let sourceChanged = false;
  try {
    if (failure.refresh) {
      counts.reportAuthFailureCalls += 1;
      const { changed, current } = await source.reportAuthFailure<C>(name);
      sourceChanged = changed;
      // The source may already have emitted `rotated` (and the client switched): switchTo dedupes.
      if (current.versionId !== failedVersionId) {
        failure.switchTo(current, 'current');
        return { kind: 'switched', sourceChanged };
      }
      if (failure.movedOn()) return { kind: 'overtaken', sourceChanged };
    }
    if (!failure.awsPending || source.pending === undefined) return { kind: 'exhausted', sourceChanged };
    counts.pendingReads += 1;
    const pending = await source.pending<C>(name);
    if (failure.movedOn()) return { kind: 'overtaken', sourceChanged };
    if (!pending || pending.versionId === failedVersionId) return { kind: 'exhausted', sourceChanged };
    failure.logger.warn({ secretName: name, versionId: pending.versionId }, `${failure.label}: AWSCURRENT rejected, using AWSPENDING until the rotation finishes`);
    failure.switchTo(pending, 'pending');
    return { kind: 'switched', sourceChanged };
  } catch (error) {
    return { kind: 'failed', error };
  }
}
