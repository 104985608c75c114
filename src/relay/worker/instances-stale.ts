import { describeError, type Logger, type RedisClient } from '../../common/index.js';
import { MetricNames, type Metrics } from '../../metrics/index.js';
import { protocolKeys } from '../../protocol/index.js';
import { readFleetStatus, staleInstanceIds } from '../../sdk/fleet/index.js';

export interface InstancesStaleOptions {
  /** How often to look. @defaultValue 30 000 ms */
  intervalMs?: number;
  /**
   * An instance counts as stale once it is on another version than the last broadcast for longer
   * than this: a rotation in progress is not an alarm. @defaultValue 60 000 ms
   */
  graceMs?: number;
}

export const INSTANCES_STALE_DEFAULTS = { intervalMs: 30_000, graceMs: 60_000 } as const;

/**
 * The worker's periodic `InstancesStale` gauge: distinct live instances that hold, for some
 * secret, another version than the last one broadcast, for longer than the grace period. One
 * ZCARD when no instance registers (the common case for fleets without presence); otherwise one
 * ZRANGEBYSCORE, one pipelined HGETALL round trip per 500 instances and one HGETALL of the
 * versions hash. Every replica emits it; the alarm takes the Maximum.
 */
export class InstancesStaleCheck {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastReported = '';
  private readonly intervalMs: number;
  private readonly graceMs: number;

  constructor(
    private readonly deps: { redis: () => RedisClient | undefined; keyPrefix: string; metrics: Metrics; logger: Logger },
    options: InstancesStaleOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? INSTANCES_STALE_DEFAULTS.intervalMs;
    this.graceMs = options.graceMs ?? INSTANCES_STALE_DEFAULTS.graceMs;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look; resolves with the count emitted (undefined when skipped: Redis not ready, or a check still running). */
  async check(): Promise<number | undefined> {
    const redis = this.deps.redis();
    if (this.running || !redis || redis.status !== 'ready') return undefined;
    this.running = true;
    try {
      let stale: Set<string> = new Set();
      if ((await redis.zcard(protocolKeys(this.deps.keyPrefix).instances)) > 0) {
        stale = staleInstanceIds(await readFleetStatus(redis, this.deps.keyPrefix), this.graceMs);
      }
      this.deps.metrics.count(MetricNames.InstancesStale, stale.size);
      const ids = [...stale].sort();
      const report = ids.join(',');
      if (report !== this.lastReported && ids.length > 0) {
        this.deps.logger.warn({ instancesStale: ids.length, instances: ids.slice(0, 10) }, 'live instances still hold an old version of a secret (see `rotation-relay status`)');
      }
      this.lastReported = report;
      return stale.size;
    } catch (error) {
      this.deps.logger.warn({ err: { name: error instanceof Error ? error.name : 'unknown' } }, `InstancesStale check failed: ${describeError(error)}`);
      return undefined;
    } finally {
      this.running = false;
    }
  }
}
