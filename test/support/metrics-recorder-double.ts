import type { Dimensions, MetricNameInput, Metrics } from '../../src/metrics/index.js';

/** One call recorded by `MetricsRecorderDouble`, in call order. */
export interface RecordedMetric {
  kind: 'count' | 'timing';
  name: string;
  value: number;
  dimensions?: Dimensions;
}

/**
 * A DOUBLE: a real `Metrics` implementation that keeps every data point in memory instead of writing EMF
 * lines, so a test can assert exactly which metrics a unit emitted and with which values.
 */
export class MetricsRecorderDouble implements Metrics {
  readonly recorded: RecordedMetric[] = [];
  flushes = 0;
  closed = false;

  count(name: MetricNameInput, value = 1, extraDimensions?: Dimensions): void {
    this.recorded.push({ kind: 'count', name, value, ...(extraDimensions ? { dimensions: extraDimensions } : {}) });
  }

  timing(name: MetricNameInput, ms: number, extraDimensions?: Dimensions): void {
    this.recorded.push({ kind: 'timing', name, value: ms, ...(extraDimensions ? { dimensions: extraDimensions } : {}) });
  }

  flush(): void {
    this.flushes += 1;
  }

  close(): void {
    this.closed = true;
  }

  /** Sum of every `count()` value recorded under `name` (0 when none). */
  total(name: string): number {
    return this.recorded.filter((m) => m.kind === 'count' && m.name === name).reduce((sum, m) => sum + m.value, 0);
  }

  /** Every `timing()` value recorded under `name`, in call order. */
  timings(name: string): number[] {
    return this.recorded.filter((m) => m.kind === 'timing' && m.name === name).map((m) => m.value);
  }

  /** The distinct metric names recorded, in first-seen order. */
  names(): string[] {
    return [...new Set(this.recorded.map((m) => m.name))];
  }
}
