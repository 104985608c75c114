import type { Logger } from '../../common/index.js';
import { MetricNames, type Metrics } from '../../metrics/index.js';
import type { VerifyFailureCode } from '../../protocol/index.js';
import { CredentialCacheConfigError } from './errors.js';

/** Default period of the rejection summary line and of the `InvalidationsRejected` data points. */
export const DEFAULT_REJECTION_SUMMARY_INTERVAL_MS = 60_000;

export interface RejectionLogOptions {
  logger: Logger;
  metrics: Metrics;
  /**
   * Period of the summary: rejections after the first of a reason are counted and written as one
   * line per period, and `InvalidationsRejected` is emitted once per period and reason.
   * @defaultValue {@link DEFAULT_REJECTION_SUMMARY_INTERVAL_MS} (60 000 ms)
   */
  intervalMs?: number;
}

/**
 * Turns a flood of rejected invalidations into a bounded number of log lines and data points.
 * Anyone who can publish on the channel decides how many messages are rejected, and one WARN
 * line each, across a fleet, is a CloudWatch Logs bill they choose. So:
 *
 * - the first rejection of a reason (its code) is logged in full at `warn`, code and reason
 *   sentence; a reason is "first" again once a whole period went by without it, so a new episode
 *   is seen; every rejection is also logged at `debug` (off by default);
 * - every other rejection is counted, and each period with such counts writes one summary line
 *   with the counts by reason;
 * - `InvalidationsRejected` is emitted once per period: one data point per reason with dimension
 *   `Reason` (the code, one of five values), and one with the total on the default dimensions
 *   only, because CloudWatch does not sum across dimensions and the dashboard graphs the metric by
 *   `Service` alone. Two calls rather than one document with two dimension sets, so any `Metrics`
 *   an application injects gets both series.
 *
 * At most (reasons + 1) lines per period at `info` and above, whatever the rate. The raw message is never seen here.
 */
export class RejectionLog {
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #intervalMs: number;
  /** Every rejection of the current period, by code: the metric. */
  readonly #counts = new Map<VerifyFailureCode, number>();
  /** Rejections of the current period not logged one by one, by code: the summary line. */
  readonly #suppressed = new Map<VerifyFailureCode, number>();
  #seenThisPeriod = new Set<VerifyFailureCode>();
  #seenLastPeriod = new Set<VerifyFailureCode>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: RejectionLogOptions) {
    const intervalMs = options.intervalMs ?? DEFAULT_REJECTION_SUMMARY_INTERVAL_MS;
    if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
      throw new CredentialCacheConfigError(`rejection summary intervalMs must be a positive number of ms, got ${String(intervalMs)}`);
    }
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#intervalMs = intervalMs;
  }

  /** Records one rejection: a full WARN line when its reason is new, else a count. */
  record(rejection: { code: VerifyFailureCode; reason: string }): void {
    const { code, reason } = rejection;
    this.#counts.set(code, (this.#counts.get(code) ?? 0) + 1);
    if (this.#seenThisPeriod.has(code) || this.#seenLastPeriod.has(code)) {
      this.#suppressed.set(code, (this.#suppressed.get(code) ?? 0) + 1);
    } else {
      this.#logger.warn(
        { code, reason, summaryIntervalMs: this.#intervalMs },
        'invalidation rejected (first for this reason; further ones are counted and summarised once per interval)',
      );
    }
    // Every one at debug, for whoever asked for that level while investigating; pino drops it at
    // the default level before building anything, so a flood costs no line.
    this.#logger.debug({ code, reason }, 'invalidation rejected');
    this.#seenThisPeriod.add(code);
    if (this.#closed) this.flush();
    else this.#schedule();
  }

  /** Writes the current period's summary and data points now, and starts a new period. */
  flush(): void {
    if (this.#suppressed.size > 0) {
      const rejected = Object.fromEntries(this.#suppressed);
      const total = sum(this.#suppressed.values());
      this.#logger.warn(
        { rejected, total, intervalMs: this.#intervalMs },
        'invalidations rejected since the last summary and not logged one by one, by reason',
      );
    }
    if (this.#counts.size > 0) {
      for (const [code, count] of this.#counts) this.#metrics.count(MetricNames.InvalidationsRejected, count, { Reason: code });
      this.#metrics.count(MetricNames.InvalidationsRejected, sum(this.#counts.values()));
    }
    this.#counts.clear();
    this.#suppressed.clear();
    this.#seenLastPeriod = this.#seenThisPeriod;
    this.#seenThisPeriod = new Set();
  }

  /** Flushes and stops the timer; a rejection recorded later is written at once. Idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.flush();
  }

  // A timer only while there is something to write or a reason to remember: an instance that
  // rejects nothing has none.
  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  #tick(): void {
    this.#timer = undefined;
    this.flush();
    if (this.#seenLastPeriod.size > 0) this.#schedule();
  }
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
