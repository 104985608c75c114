import {
  EMF_DIMENSION_NAME_MAX_LENGTH,
  EMF_DIMENSION_VALUE_MAX_LENGTH,
  EMF_MAX_ABSOLUTE_VALUE,
  EMF_MAX_DIMENSIONS_PER_SET,
  EMF_MAX_TIMESTAMP_FUTURE_MS,
  EMF_MAX_TIMESTAMP_PAST_MS,
  EMF_METRIC_NAME_MAX_LENGTH,
  EMF_NAMESPACE_MAX_LENGTH,
  EMF_NAMESPACE_PATTERN,
  EMF_RESERVED_NAMESPACE_PREFIX,
  PRINTABLE_ASCII,
} from './emf-limits.js';
import { MetricsError, MetricsErrorCodes } from './errors.js';

/**
 * Hard EMF rules. Each check throws a `MetricsError` with code `EMF_LIMIT`; messages name the
 * metric or dimension key, never a dimension value (those are secret names at most, but a
 * message has no business repeating them).
 */

function limitError(message: string): MetricsError {
  return new MetricsError(MetricsErrorCodes.EmfLimit, message);
}

function hasNonSpace(text: string): boolean {
  return text.trim().length > 0;
}

export function assertNamespace(namespace: string): void {
  if (
    typeof namespace !== 'string' ||
    namespace.length > EMF_NAMESPACE_MAX_LENGTH ||
    !EMF_NAMESPACE_PATTERN.test(namespace) ||
    !hasNonSpace(namespace) ||
    namespace.startsWith(EMF_RESERVED_NAMESPACE_PREFIX)
  ) {
    throw limitError(
      `invalid CloudWatch namespace ${JSON.stringify(namespace)}: 1-${EMF_NAMESPACE_MAX_LENGTH} characters of [0-9A-Za-z.-_/#: ], not starting with ${EMF_RESERVED_NAMESPACE_PREFIX}`,
    );
  }
}

/** `reservedKeys`: root keys pino or the document already uses; a metric there would clash. */
export function assertMetricName(name: string, reservedKeys: ReadonlySet<string>): void {
  if (
    typeof name !== 'string' ||
    name.length > EMF_METRIC_NAME_MAX_LENGTH ||
    !PRINTABLE_ASCII.test(name) ||
    !hasNonSpace(name)
  ) {
    throw limitError(
      `invalid metric name ${JSON.stringify(name)}: 1-${EMF_METRIC_NAME_MAX_LENGTH} printable ASCII characters`,
    );
  }
  if (reservedKeys.has(name)) {
    throw limitError(`metric name "${name}" clashes with a root field of the log line`);
  }
}

/** Checked once per dimension set and flush period, not per recorded value. */
export function assertDimensionSet(
  dimensions: Readonly<Record<string, string>>,
  reservedKeys: ReadonlySet<string>,
): void {
  const names = Object.keys(dimensions);
  if (names.length > EMF_MAX_DIMENSIONS_PER_SET) {
    throw limitError(
      `${names.length} dimensions in one set; EMF allows at most ${EMF_MAX_DIMENSIONS_PER_SET}`,
    );
  }
  for (const name of names) {
    if (
      name.length > EMF_DIMENSION_NAME_MAX_LENGTH ||
      !PRINTABLE_ASCII.test(name) ||
      !hasNonSpace(name) ||
      name.startsWith(':')
    ) {
      throw limitError(
        `invalid dimension name ${JSON.stringify(name)}: 1-${EMF_DIMENSION_NAME_MAX_LENGTH} printable ASCII characters, not starting with ':'`,
      );
    }
    if (reservedKeys.has(name)) {
      throw limitError(`dimension name "${name}" clashes with a root field of the log line`);
    }
    const value: unknown = dimensions[name];
    if (
      typeof value !== 'string' ||
      value.length > EMF_DIMENSION_VALUE_MAX_LENGTH ||
      !hasNonSpace(value)
    ) {
      throw limitError(
        `invalid value for dimension "${name}": a string of 1-${EMF_DIMENSION_VALUE_MAX_LENGTH} characters, not only whitespace`,
      );
    }
  }
}

/** On the hot path: two comparisons, no allocation unless it throws. */
export function assertMetricValue(name: string, value: number): void {
  if (typeof value !== 'number' || !(Math.abs(value) <= EMF_MAX_ABSOLUTE_VALUE)) {
    throw limitError(
      `invalid value ${String(value)} for metric "${name}": a finite number within ±2^360`,
    );
  }
}

/**
 * `wallClockMs` is `Date.now()`. Checking an injected clock against it catches the classic EMF
 * mistakes (seconds instead of milliseconds, `performance.now()`), which CloudWatch would
 * otherwise drop without a trace.
 */
export function assertTimestamp(timestampMs: number, wallClockMs: number): void {
  if (
    !Number.isFinite(timestampMs) ||
    timestampMs < wallClockMs - EMF_MAX_TIMESTAMP_PAST_MS ||
    timestampMs > wallClockMs + EMF_MAX_TIMESTAMP_FUTURE_MS
  ) {
    throw limitError(
      `metrics timestamp ${String(timestampMs)} is outside the EMF window (14 days past, 2 hours future); is the clock returning epoch milliseconds?`,
    );
  }
}
