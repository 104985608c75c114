import type { Refresher } from './refresher.js';
import type { RefreshRequest, SecretState } from './secret-state.js';

// Its own file because the poll, the reconciler and lost-state recovery all start reads nobody
// awaits, and they must agree that such a read never rejects.

/** A refresh nobody awaits: failures are already recorded, logged and retried by the refresher (which also acks). */
export async function refreshInBackground(refresher: Pick<Refresher, 'refresh'>, state: SecretState, request: RefreshRequest): Promise<void> {
  try {
    await refresher.refresh(state, request);
  } catch {
    // see above
  }
}

/**
 * Refreshes every state and waits for all of them (settled, not raced: an emergency revoke must
 * name the version each secret holds once its own read is over); rejects afterwards with the
 * first failure, if any.
 */
export async function refreshAllSettled(refresher: Pick<Refresher, 'refresh'>, states: readonly SecretState[], request: RefreshRequest): Promise<void> {
  const results = await Promise.allSettled(states.map((state) => refresher.refresh(state, request)));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}
