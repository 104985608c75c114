import type { Invalidation } from '../protocol/index.js';
import type { RefreshRequest, SecretState } from './secret-state.js';

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
 *   when it carries AWSCURRENT and otherwise reads AWSCURRENT once: reconcile never rolls back;
 * - an entry without a version → one AWSCURRENT read if it was published after our last fetch.
 */
export function planReconcile(states: Iterable<SecretState>, entries: ReadonlyMap<string, Invalidation>, now: number): ReconcileAction[] {
  const actions: ReconcileAction[] = [];
  for (const state of states) {
    const entry = entryFor(state, entries);
    if (!entry || entry.id === state.lastInvalidationId) continue;
    if (entry.versionId !== undefined) {
      const request: RefreshRequest | undefined =
        entry.versionId === state.held?.versionId
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
