import type { Logger } from '../../common/index.js';
import type { SecretState } from './secret-state.js';
import type { CacheCounts, RevokedEvent } from './types.js';

// Its own file because the emergency revoke reaches the cache two ways (forceRefresh and a signed
// invalidation, refresh-queue.ts) and both must describe it the same way.

/** The `revoked` event for what `state` holds now; undefined before anything is held. */
export function revocationOf(state: SecretState, trigger: RevokedEvent['trigger']): RevokedEvent | undefined {
  const held = state.held;
  if (!held) return undefined;
  return { name: state.name, secretArn: held.secretArn, versionId: held.versionId, trigger };
}

export interface RevokerDeps {
  counts: CacheCounts;
  logger: Logger;
  isRunning: () => boolean;
  emit: (event: RevokedEvent) => void;
}

/** Announces emergency revokes: counted, logged at warn (names and versions only), emitted as `revoked`. */
export class Revoker {
  constructor(private readonly deps: RevokerDeps) {}

  /** Clients close every connection of `state`'s secret not on the version held now. */
  revoke(state: SecretState, trigger: RevokedEvent['trigger']): void {
    // A broadcast's refresh that ended because the cache stopped revokes nothing: its clients are going away.
    if (trigger === 'invalidation' && !this.deps.isRunning()) return;
    const event = revocationOf(state, trigger);
    if (!event) return;
    this.deps.counts.revocations = (this.deps.counts.revocations ?? 0) + 1;
    this.deps.logger.warn(
      { code: 'TERMINATE_OLD', name: event.name, versionId: event.versionId, trigger },
      `emergency revoke of secret "${event.name}": rotating clients close every connection not on version ${event.versionId} now, failing the work in flight on them`,
    );
    this.deps.emit(event);
  }
}
