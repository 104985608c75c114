import type { Logger } from '../../common/index.js';
import { MetricNames, type Metrics } from '../../metrics/index.js';
import type { ListenerRejection } from './invalidation-listener.js';

/** How many rejected message ids are remembered to tell a replay from a new message. */
const REMEMBERED_IDS = 256;

export interface ClockSkewMonitorOptions {
  logger: Logger;
  metrics: Metrics;
  /** The verifier's `clockSkewToleranceMs`, named in the warning. */
  clockSkewToleranceMs: number;
  /** The verifier's `maxAgeMs`, named in the warning. */
  maxAgeMs: number;
}

/** The skew last measured, for `status()`. */
export interface ClockSkewStatus {
  /** `publishedAt` minus this host's clock, ms. Positive: the worker's clock is ahead of this host's. */
  skewMs: number;
  /** Which clock is ahead, in words, for an operator reading status. */
  ahead: 'worker' | 'this host';
}

/**
 * Notices a host whose clock disagrees with the worker's, which otherwise looks like nothing but
 * rejected messages. Only signed messages count: their `publishedAt` is the worker's own clock
 * reading, while an unsigned one says whatever its sender wrote.
 *
 * - `from-the-future`: the worker's clock is ahead by more than the tolerance (or this one behind).
 * - `too-old`: this host's clock is ahead by more than the max age — or the message is a replay.
 *   Nothing in one message tells the two apart, so a message id already seen is taken as a replay
 *   (the worker never sends an id twice) and not counted; a replay of a message never seen here
 *   still is, and the warning says so.
 *
 * Each counted rejection adds one `ClockSkewDetected`; the first writes one WARN line with the
 * skew measured (delivery time included, milliseconds on pub/sub). Later ones only update
 * {@link ClockSkewMonitor.status}: a skewed host rejects every message, and one line says it all.
 */
export class ClockSkewMonitor {
  readonly #options: ClockSkewMonitorOptions;
  readonly #ids = new Set<string>();
  #warned = false;
  #last: ClockSkewStatus | undefined;

  constructor(options: ClockSkewMonitorOptions) {
    this.#options = options;
  }

  /** Looks at one rejection; returns true when it counted as clock skew. */
  observe(rejection: ListenerRejection): boolean {
    const { signed } = rejection;
    if (signed === undefined) return false;
    if (this.#ids.has(signed.id)) return false;
    this.#remember(signed.id);
    const skew: ClockSkewStatus = { skewMs: signed.offsetMs, ahead: signed.offsetMs > 0 ? 'worker' : 'this host' };
    this.#last = skew;
    this.#options.metrics.count(MetricNames.ClockSkewDetected);
    if (!this.#warned) {
      this.#warned = true;
      this.#warn(rejection.code, skew);
    }
    return true;
  }

  /** The skew measured on the latest counted rejection; undefined while none was. */
  status(): ClockSkewStatus | undefined {
    return this.#last === undefined ? undefined : { ...this.#last };
  }

  #warn(code: ListenerRejection['code'], skew: ClockSkewStatus): void {
    const { clockSkewToleranceMs, maxAgeMs } = this.#options;
    const fields = { code, skewMs: skew.skewMs, ahead: skew.ahead, clockSkewToleranceMs, maxAgeMs };
    const by = `${Math.abs(skew.skewMs)} ms`;
    if (skew.ahead === 'worker') {
      this.#options.logger.warn(
        fields,
        `clock skew: a signed invalidation was published ${by} ahead of this host's clock, beyond the ${clockSkewToleranceMs} ms tolerance; ` +
          'every invalidation is rejected until the clocks agree (new versions arrive only by reconcile and the poll). ' +
          'Fix the time sync (NTP) of this host or the worker, or raise clockSkewToleranceMs. Logged once; ClockSkewDetected counts each.',
      );
    } else {
      this.#options.logger.warn(
        fields,
        `clock skew suspected: a signed invalidation is ${by} old by this host's clock, beyond the ${maxAgeMs} ms max age; ` +
          "this host's clock is ahead of the worker's, or the message is a replay. A skewed host rejects every invalidation " +
          '(new versions arrive only by reconcile and the poll). Fix the time sync (NTP). Logged once; ClockSkewDetected counts each.',
      );
    }
  }

  #remember(id: string): void {
    this.#ids.add(id);
    // A Set iterates in insertion order: the first entry is the oldest.
    if (this.#ids.size > REMEMBERED_IDS) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
  }
}
