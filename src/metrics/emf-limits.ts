/**
 * The rules CloudWatch applies to Embedded Metric Format documents, as named constants next to
 * the emitter (the Powertools habit): a number in a check should say which AWS rule it mirrors.
 * CloudWatch does not answer a bad EMF line with an error; it drops the metric silently (at most a
 * count in `AWS/Logs`), so the emitter checks the hard rules itself and throws at the call site.
 *
 * Sources: the EMF specification and the PutMetricData / Dimension / MetricDatum limits of the
 * CloudWatch API reference, which the EMF extraction applies to what it extracts.
 */

/** Metrics listed in one document's `CloudWatchMetrics[].Metrics`; more go to a further line. */
export const EMF_MAX_METRICS_PER_DOCUMENT = 100;

/** Dimension keys in one dimension set (`Dimensions[n]`). */
export const EMF_MAX_DIMENSIONS_PER_SET = 30;

/** Values of one metric in one document when the root value is an array. */
export const EMF_MAX_VALUES_PER_METRIC = 100;

/** CloudWatch skips log events whose timestamp is older than this (14 days). */
export const EMF_MAX_TIMESTAMP_PAST_MS = 14 * 24 * 60 * 60 * 1000;

/** ... or further in the future than this (2 hours). */
export const EMF_MAX_TIMESTAMP_FUTURE_MS = 2 * 60 * 60 * 1000;

/** Namespace: 1–255 characters from this set, at least one of them not a space. */
export const EMF_NAMESPACE_MAX_LENGTH = 255;
export const EMF_NAMESPACE_PATTERN = /^[0-9A-Za-z.\-_/#: ]+$/;
/** Namespaces starting with this prefix belong to AWS services and are refused. */
export const EMF_RESERVED_NAMESPACE_PREFIX = 'AWS/';

/** Metric name: 1–255 printable ASCII characters, at least one of them not a space. */
export const EMF_METRIC_NAME_MAX_LENGTH = 255;

/** Dimension name: 1–255 printable ASCII characters, not starting with a colon. */
export const EMF_DIMENSION_NAME_MAX_LENGTH = 255;

/** Dimension value: 1–1024 characters, at least one of them not whitespace. */
export const EMF_DIMENSION_VALUE_MAX_LENGTH = 1024;

/** CloudWatch rejects values beyond ±2^360, and NaN / ±Infinity (which JSON cannot carry anyway). */
export const EMF_MAX_ABSOLUTE_VALUE = 2 ** 360;

/** Printable ASCII (space to tilde): CloudWatch names are ASCII, and control characters never help. */
export const PRINTABLE_ASCII = /^[\x20-\x7E]+$/;

/** The units CloudWatch accepts (its `StandardUnit` enumeration). */
export const CLOUDWATCH_UNITS = [
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
] as const;

export type MetricUnit = (typeof CLOUDWATCH_UNITS)[number];
