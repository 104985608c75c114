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
