import { RotationRelayError } from '../errors.js';
import type { SecretConvergence } from './convergence.js';

/** Redis could not be read (presence, versions or timeline). */
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
 * `waitConverged` timed out: some live instance still holds another version (listed in
 * `result.stale`), or fewer instances than `minInstances` report the secret at all.
 */
export class NotConvergedError extends RotationRelayError {
  constructor(
    message: string,
    readonly result: SecretConvergence & { elapsedMs: number },
  ) {
    super('FLEET_NOT_CONVERGED', message);
  }
}
