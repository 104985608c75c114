/**
 * CloudWatch Embedded Metric Format (EMF) written as JSON lines through the pino logger.
 *
 * Why this small emitter rather than `aws-embedded-metrics`: one log pipeline and one redaction
 * config for logs and metrics alike; no agent or environment auto-detection (the worker runs on
 * ECS, EKS or any host, and the CloudWatch agent, Fluent Bit or awslogs picks JSON lines up from
 * stdout); and no extra dependency. EMF tolerates the extra root fields pino adds (`level`, `time`,
 * `msg`, the logger's bindings); it needs `_aws` and the metric values at the root, which is
 * where they are written.
 *
 * Hot path: `count()` / `timing()` push a number into a buffer keyed by dimension set. Names,
 * dimensions and units are checked once per dimension set and flush period; documents are built
 * only at flush.
 */
import { REDACT_PATHS, type PinoLogger } from '../common/index.js';
import {
  EMF_MAX_METRICS_PER_DOCUMENT,
  EMF_MAX_VALUES_PER_METRIC,
  type MetricUnit,
} from './emf-limits.js';
import { MetricsError, MetricsErrorCodes } from './errors.js';
import { METRIC_DEFINITIONS, METRIC_NAMESPACE, isMetricName, type MetricName } from './names.js';
import {
  assertDimensionSet,
  assertMetricName,
  assertMetricValue,
  assertNamespace,
  assertTimestamp,
} from './validate.js';

/**
 * Dimension names to values. Values are secret NAMES at most (e.g. `SecretName`), never secret
 * values: they become CloudWatch dimensions that anyone with `cloudwatch:ListMetrics` can read.
 */
export type Dimensions = Readonly<Record<string, string>>;

/** A name from `names.ts`, or any other string (accepted with a one-time warning). */
export type MetricNameInput = MetricName | (string & Record<never, never>);

/** What instrumented code depends on; `MetricsEmitter` and `NoopMetrics` both implement it. */
export interface Metrics {
  /** Records `value` (default 1) with unit `Count`. */
  count(name: MetricNameInput, value?: number, extraDimensions?: Dimensions): void;
  /** Records a duration in milliseconds. */
  timing(name: MetricNameInput, ms: number, extraDimensions?: Dimensions): void;
  /** Writes everything buffered now. */
  flush(): void;
  /** Flushes and stops the automatic flush. Idempotent. */
  close(): void;
}

export interface MetricsEmitterOptions {
  /** Where EMF lines are written: a pino logger (EMF lines are pino's JSON lines), built with `createLogger`. A silent logger emits nothing. */
  logger: PinoLogger;
  /** CloudWatch namespace. @defaultValue `'RotationRelay'` */
  namespace?: string;
  /**
   * Dimensions on every metric. Values are secret names at most, never secret values.
   * @defaultValue `{ Service: 'rotation-relay' }`
   */
  dimensions?: Dimensions;
  /**
   * Epoch milliseconds for `_aws.Timestamp`; checked against `Date.now()` (14 days / 2 hours).
   * @defaultValue `Date.now`
   */
  now?: () => number;
  /**
   * Automatic flush period; the timer is `unref()`ed so it never keeps the process alive.
   * `0` turns automatic flushing off.
   * @defaultValue `10_000`
   */
  flushIntervalMs?: number;
}

const DEFAULTS = {
  namespace: METRIC_NAMESPACE,
  dimensions: { Service: 'rotation-relay' } as Dimensions,
  // Read at call time, not captured at import: a clock faked later (tests) must be the one used.
  now: (): number => Date.now(),
  flushIntervalMs: 10_000,
} as const;

/** The `msg` of every EMF line, so log queries can include or exclude metrics in one filter. */
export const EMF_LOG_MESSAGE = 'emf';

/**
 * Root keys a metric or dimension must not take: pino's own fields (a second `level` would make a
 * line with duplicate keys), `_aws`, `__proto__`, and the top-level redaction paths (pino would
 * replace the value with a string and CloudWatch would reject the document).
 */
const ALWAYS_RESERVED_KEYS = ['_aws', 'level', 'time', 'msg', '__proto__'];

/** The buffer key of the default dimension set; keys built from extra dimensions are never empty. */
const DEFAULT_SET_KEY = '';

interface Series {
  readonly unit: MetricUnit;
  readonly values: number[];
}

interface DimensionBucket {
  readonly key: string;
  readonly dimensions: Dimensions;
  readonly dimensionNames: readonly string[];
  readonly series: Map<string, Series>;
}

export class MetricsEmitter implements Metrics {
  readonly #logger: PinoLogger;
  readonly #out: PinoLogger;
  readonly #namespace: string;
  readonly #dimensions: Dimensions;
  readonly #now: () => number;
  readonly #reservedKeys: ReadonlySet<string>;
  readonly #buckets = new Map<string, DimensionBucket>();
  readonly #warned = new Set<string>();
  readonly #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: MetricsEmitterOptions) {
    this.#logger = options.logger;
    this.#namespace = options.namespace ?? DEFAULTS.namespace;
    this.#dimensions = { ...(options.dimensions ?? DEFAULTS.dimensions) };
    this.#now = options.now ?? DEFAULTS.now;
    this.#reservedKeys = new Set([
      ...ALWAYS_RESERVED_KEYS,
      ...Object.keys(options.logger.bindings()),
      ...REDACT_PATHS.filter((path) => !path.includes('.')),
    ]);
    // Metrics are not log verbosity: LOG_LEVEL=warn must not blind the RotationFailures alarm.
    // Only a silent logger (the library default when none is given) silences them.
    const level = options.logger.level === 'silent' ? 'silent' : 'info';
    this.#out = options.logger.child({}, { level });

    // Fail at construction, not at the first flush ten seconds into production.
    assertNamespace(this.#namespace);
    assertDimensionSet(this.#dimensions, this.#reservedKeys);
    assertTimestamp(this.#now(), Date.now());

    const flushIntervalMs = options.flushIntervalMs ?? DEFAULTS.flushIntervalMs;
    if (!Number.isFinite(flushIntervalMs) || flushIntervalMs < 0) {
      throw new MetricsError(
        MetricsErrorCodes.InvalidOptions,
        `flushIntervalMs must be a finite number >= 0 (0 turns automatic flushing off), got ${String(flushIntervalMs)}`,
      );
    }
    if (flushIntervalMs > 0) {
      this.#timer = setInterval(() => this.#flushFromTimer(), flushIntervalMs);
      this.#timer.unref();
    }
  }

  count(name: MetricNameInput, value = 1, extraDimensions?: Dimensions): void {
    this.#record(name, value, 'Count', extraDimensions);
  }

  timing(name: MetricNameInput, ms: number, extraDimensions?: Dimensions): void {
    this.#record(name, ms, 'Milliseconds', extraDimensions);
  }

  flush(): void {
    if (this.#buckets.size === 0) return;
    const buckets = [...this.#buckets.values()];
    // Cleared before writing: if the clock check throws, the data is dropped rather than kept
    // growing behind a clock that will fail again.
    this.#buckets.clear();
    const timestamp = this.#timestamp();
    for (const bucket of buckets) this.#write(bucket, timestamp);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.flush();
  }

  #record(name: string, value: number, unit: MetricUnit, extraDimensions?: Dimensions): void {
    assertMetricValue(name, value);
    const bucket = this.#bucketFor(extraDimensions);
    const series = bucket.series.get(name) ?? this.#openSeries(bucket, name, unit);
    series.values.push(value);
    // After close() nobody flushes any more, so late in-flight work is written at once.
    if (this.#closed || series.values.length >= EMF_MAX_VALUES_PER_METRIC) {
      this.#buckets.delete(bucket.key);
      this.#write(bucket, this.#timestamp());
    }
  }

  #bucketFor(extraDimensions: Dimensions | undefined): DimensionBucket {
    const key = extraDimensions === undefined ? DEFAULT_SET_KEY : dimensionSetKey(extraDimensions);
    const existing = this.#buckets.get(key);
    if (existing !== undefined) return existing;

    const dimensions =
      key === DEFAULT_SET_KEY ? this.#dimensions : { ...this.#dimensions, ...extraDimensions };
    if (key !== DEFAULT_SET_KEY) assertDimensionSet(dimensions, this.#reservedKeys);
    const bucket: DimensionBucket = {
      key,
      dimensions,
      dimensionNames: Object.keys(dimensions),
      series: new Map(),
    };
    this.#buckets.set(key, bucket);
    return bucket;
  }

  #openSeries(bucket: DimensionBucket, name: string, callUnit: MetricUnit): Series {
    assertMetricName(name, this.#reservedKeys);
    if (Object.hasOwn(bucket.dimensions, name)) {
      throw new MetricsError(
        MetricsErrorCodes.EmfLimit,
        `metric name "${name}" is also a dimension name; both would be the same root field`,
      );
    }
    let unit = callUnit;
    if (isMetricName(name)) {
      // names.ts wins: one metric emitted in two units splits its CloudWatch statistics.
      unit = METRIC_DEFINITIONS[name].unit;
      if (unit !== callUnit) {
        this.#warnOnce(
          `unit:${name}`,
          { metric: name, unit, callUnit },
          'metric recorded with a unit other than its names.ts unit; the names.ts unit is used',
        );
      }
    } else {
      this.#warnOnce(
        `name:${name}`,
        { metric: name },
        'metric name not in src/metrics/names.ts; dashboards and alarms will not show it',
      );
    }
    const series: Series = { unit, values: [] };
    bucket.series.set(name, series);
    return series;
  }

  #write(bucket: DimensionBucket, timestamp: number): void {
    // A bucket can be empty when the first metric recorded into it failed a check.
    if (bucket.series.size === 0) return;
    const entries = [...bucket.series];
    for (let start = 0; start < entries.length; start += EMF_MAX_METRICS_PER_DOCUMENT) {
      const chunk = entries.slice(start, start + EMF_MAX_METRICS_PER_DOCUMENT);
      const document: Record<string, unknown> = {
        _aws: {
          Timestamp: timestamp,
          CloudWatchMetrics: [
            {
              Namespace: this.#namespace,
              Dimensions: [bucket.dimensionNames],
              Metrics: chunk.map(([name, series]) => ({ Name: name, Unit: series.unit })),
            },
          ],
        },
        ...bucket.dimensions,
      };
      for (const [name, series] of chunk) {
        document[name] = series.values.length === 1 ? series.values[0] : series.values;
      }
      this.#out.info(document, EMF_LOG_MESSAGE);
    }
  }

  #timestamp(): number {
    const timestamp = Math.floor(this.#now());
    assertTimestamp(timestamp, Date.now());
    return timestamp;
  }

  #flushFromTimer(): void {
    // A metrics fault must never crash the worker from a timer callback.
    try {
      this.flush();
    } catch (error: unknown) {
      this.#logger.error({ err: error }, 'metrics flush failed; buffered metrics dropped');
    }
  }

  #warnOnce(key: string, fields: Record<string, string>, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#logger.warn(fields, message);
  }
}

/**
 * Buffer key for a set of extra dimensions, independent of key order. No JSON.stringify: a sort of
 * one or two keys and a string concatenation. An empty object maps to the default set.
 */
function dimensionSetKey(extraDimensions: Dimensions): string {
  const names = Object.keys(extraDimensions);
  if (names.length === 0) return DEFAULT_SET_KEY;
  if (names.length > 1) names.sort();
  let key = '';
  for (const name of names) key += `${name}\u0000${String(extraDimensions[name])}\u0001`;
  return key;
}

/** For library users who want no metrics: same interface, does nothing, costs nothing. */
export class NoopMetrics implements Metrics {
  count(_name: MetricNameInput, _value?: number, _extraDimensions?: Dimensions): void {}
  timing(_name: MetricNameInput, _ms: number, _extraDimensions?: Dimensions): void {}
  flush(): void {}
  close(): void {}
}
