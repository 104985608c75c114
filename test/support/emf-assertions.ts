import { expect } from 'vitest';
import type { LogLine } from './log-capture.js';

/**
 * Checks one parsed line against the EMF specification with the numbers written out here, not
 * imported from src/metrics/emf-limits.ts, so a wrong constant there cannot make this pass.
 */
const STANDARD_UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes',
  'Terabytes', 'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count',
  'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second',
  'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second',
  'Count/Second', 'None',
]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function expectValidEmf(line: LogLine): void {
  const aws = line._aws;
  if (!isRecord(aws)) throw new Error('no _aws object at the root');
  expect(Number.isInteger(aws.Timestamp)).toBe(true);
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives) || directives.length === 0) {
    throw new Error('_aws.CloudWatchMetrics is not a non-empty array');
  }
  for (const directive of directives as unknown[]) {
    if (!isRecord(directive)) throw new Error('a MetricDirective is not an object');
    expect(typeof directive.Namespace).toBe('string');
    const dimensionSets = directive.Dimensions;
    if (!Array.isArray(dimensionSets)) throw new Error('Dimensions is not an array');
    for (const set of dimensionSets as unknown[]) {
      if (!Array.isArray(set)) throw new Error('a DimensionSet is not an array');
      expect(set.length).toBeLessThanOrEqual(30);
      for (const key of set as unknown[]) {
        expect(typeof key).toBe('string');
        expect(typeof line[key as string]).toBe('string');
      }
    }
    const metrics = directive.Metrics;
    if (!Array.isArray(metrics)) throw new Error('Metrics is not an array');
    expect(metrics.length).toBeGreaterThan(0);
    expect(metrics.length).toBeLessThanOrEqual(100);
    for (const metric of metrics as unknown[]) {
      if (!isRecord(metric) || typeof metric.Name !== 'string') {
        throw new Error('a MetricDefinition has no Name');
      }
      expect(STANDARD_UNITS.has(metric.Unit as string)).toBe(true);
      const value = line[metric.Name];
      if (Array.isArray(value)) {
        expect(value.length).toBeLessThanOrEqual(100);
        for (const item of value as unknown[]) expect(Number.isFinite(item)).toBe(true);
      } else {
        expect(Number.isFinite(value)).toBe(true);
      }
    }
  }
}
