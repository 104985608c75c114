import { SecretNotFoundError } from '../../secrets/index.js';
import type { Refresher } from './refresher.js';
import type { PendingEntry, SecretState } from './secret-state.js';
import type { CredentialVersion } from './types.js';

/**
 * The AWSPENDING version of a secret, for a client whose login failed with AWSCURRENT during a
 * rotation's setSecret → finishSecret window. One read is shared by concurrent callers and its
 * answer reused for `ttlMs` after it settled (failures too, so an outage is not hammered by a
 * login storm), and forgotten as soon as AWSCURRENT moves (the refresher clears `state.pending`).
 *
 * Undefined when there is no AWSPENDING version (GetSecretValue answers ResourceNotFoundException
 * for the stage), and when AWSPENDING sits on the version already held: AWS removes the label at
 * finishSecret, but moto_server (and a rotation Lambda that does not remove it) leaves AWSPENDING
 * on the new current version, which is then nothing a client could fall back to.
 */
export function readPending(state: SecretState, refresher: Refresher, now: () => number, ttlMs: number): Promise<CredentialVersion | undefined> {
  const heldVersionId = state.held?.versionId;
  const cached = state.pending;
  if (cached && cached.heldVersionId === heldVersionId && now() < cached.expiresAt) return cached.promise;

  const entry: PendingEntry = { heldVersionId, requestedAt: now(), expiresAt: Number.POSITIVE_INFINITY, promise: Promise.resolve(undefined) };
  entry.promise = refresher
    .read(state, { versionStage: 'AWSPENDING' })
    .then(
      ({ fetched, value }): CredentialVersion | undefined => {
        if (fetched.versionId === state.held?.versionId) return undefined;
        // Kept for the broadcast that will name this version once it is AWSCURRENT (Refresher).
        entry.fetched = fetched;
        return { value, versionId: fetched.versionId, secretArn: fetched.arn };
      },
      (error: unknown) => {
        if (error instanceof SecretNotFoundError) return undefined;
        throw error;
      },
    )
    .finally(() => {
      entry.expiresAt = now() + ttlMs;
    });
  state.pending = entry;
  return entry.promise;
}
