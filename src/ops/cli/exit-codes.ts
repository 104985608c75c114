/** Exit codes of every `rotation-relay` command, documented in the README's CLI section. */
export const EXIT = {
  /** Done; for `inspect-event`, the body parsed into an event (invalidate, alert or ignore). */
  ok: 0,
  /** A runtime failure: Redis, SQS or Secrets Manager unreachable, a secret not found; for `wait-converged`, stale instances or too few. */
  failure: 1,
  /** Bad usage or configuration (the message names the flag or variable), or `inspect-event` rejected the body. */
  usage: 2,
  /**
   * `wait-converged` only: every instance that reports presence converged, but some subscriber on
   * the invalidation channel reports none (or could not be counted), so nobody can say what it holds.
   */
  unaccountedSubscribers: 3,
} as const;

/** Thrown by argument parsing; main prints the message and the command's usage line. */
export class UsageError extends Error {
  override name = 'UsageError';
}
