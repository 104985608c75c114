export {
  MetricsEmitter,
  NoopMetrics,
  EMF_LOG_MESSAGE,
  type Metrics,
  type MetricsEmitterOptions,
  type MetricNameInput,
  type Dimensions,
} from './emitter.js';
export {
  METRIC_NAMESPACE,
  MetricNames,
  METRIC_DEFINITIONS,
  ALL_METRIC_NAMES,
  isMetricName,
  type MetricName,
  type MetricDefinition,
} from './names.js';
export { MetricsError, MetricsErrorCodes, type MetricsErrorCode } from './errors.js';
export * from './emf-limits.js';
