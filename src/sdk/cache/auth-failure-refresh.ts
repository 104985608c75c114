import type { Refresher } from './refresher.js';
import type { SecretState } from './secret-state.js';

/**
 * A client's login failed: re-read AWSCURRENT (one read shared by concurrent callers), unless the
 * last finished refresh of this secret is younger than `minIntervalMs`, whose result is then
 * answered without a read, so a storm of failed logins costs one read. Never rejects for a
 * Secrets Manager failure (recorded, logged and retried by the refresher): resolves whether the
 * value changed.
 */
export async function refreshAfterAuthFailure(state: SecretState, refresher: Pick<Refresher, 'refresh'>, now: number, minIntervalMs: number): Promise<boolean> {
  const last = state.lastCompleted;
  if (!state.flight.inFlight && last && now - last.at < minIntervalMs) return last.changed;
  try {
    return (await refresher.refresh(state, { kind: 'current', trigger: 'auth-failure', at: now })).changed;
  } catch {
    return false;
  }
}
