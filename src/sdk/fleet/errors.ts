import { RotationRelayError } from '../../common/index.js';
import type { SubscriberAccount } from './channel-subscribers.js';
import type { SecretConvergence } from './convergence.js';

/** Redis could not be read (presence, versions, timeline or the channel), or not within the deadline. */
export class FleetReadError extends RotationRelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FLEET_READ_FAILED', message, options);
  }
}

/** Options that cannot work (no secret, no version and no way to read AWSCURRENT, …). */
export class FleetOptionsError extends RotationRelayError {
  constructor(message: string) {
    super('FLEET_INVALID_OPTIONS', message);
  }
}

/**
 * Why a fleet is not converged, in order of precedence:
 * - `stale`: some live instance holds another version (`result.stale`);
 * - `unaccounted-subscribers`: more connections listen on the invalidation channel than live
 *   instances report presence (`result.subscribers`), or they could not all be counted;
 * - `too-few-instances`: fewer live instances than `minInstances` report the secret.
 */
export type NotConvergedReason = 'stale' | 'unaccounted-subscribers' | 'too-few-instances';

/** `waitConverged` ran out of time while the fleet was not converged; `reason` says why. */
export class NotConvergedError extends RotationRelayError {
  constructor(
    message: string,
    readonly result: SecretConvergence & { elapsedMs: number; subscribers: SubscriberAccount },
    readonly reason: NotConvergedReason,
    options?: { cause?: unknown },
  ) {
    super('FLEET_NOT_CONVERGED', message, options);
  }
}
