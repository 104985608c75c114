import { FleetReadError } from './errors.js';

/**
 * The whole budget of one fleet check (`waitConverged`, `wait-converged --timeout`): every Redis
 * read and every DescribeSecret it makes is raced against it, because neither ioredis (offline
 * queue, reconnect backoff) nor the AWS SDK (retries) bounds a call by a caller's deadline.
 */
export class Deadline {
  /** `at` is an absolute time in ms (Date.now() clock). */
  constructor(readonly at: number) {}

  static in(ms: number, now = Date.now()): Deadline {
    return new Deadline(now + Math.max(0, ms));
  }

  remainingMs(now = Date.now()): number {
    return Math.max(0, this.at - now);
  }

  /**
   * `work`, or a {@link FleetReadError} naming `what` once the deadline passes. The call itself
   * cannot be cancelled (an ioredis command, a sent HTTP request): it is abandoned, and whatever
   * it settles to later is ignored.
   */
  async bound<T>(work: Promise<T>, what: string): Promise<T> {
    const remaining = this.remainingMs();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FleetReadError(`${what} did not answer within the deadline (${remaining} ms left)`)), remaining);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
      // A late rejection of the abandoned call must not become an unhandled rejection.
      work.catch(() => undefined);
    }
  }
}
