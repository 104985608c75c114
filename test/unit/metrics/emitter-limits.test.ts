import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RotationRelayError } from '../../../src/common/errors.js';
import { MetricNames, MetricsEmitter, MetricsError } from '../../../src/metrics/index.js';
import { captureLogs } from '../../support/log-capture.js';

const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const DAY_MS = 24 * 60 * 60 * 1000;

function expectEmfLimitError(act: () => unknown): void {
  let thrown: unknown;
  try {
    act();
  } catch (error: unknown) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(MetricsError);
  expect(thrown).toBeInstanceOf(RotationRelayError);
  expect((thrown as MetricsError).code).toBe('EMF_LIMIT');
}

function manyDimensions(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, index) => [`Dim${index}`, 'v']));
}

describe('Class: MetricsEmitter (EMF hard limits)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  function emitter(): { metrics: MetricsEmitter; logs: ReturnType<typeof captureLogs> } {
    const logs = captureLogs();
    return { metrics: new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 }), logs };
  }

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['beyond 2^360', 2 ** 361],
  ])('throws EMF_LIMIT when a value is %s', (_label, value) => {
    const { metrics } = emitter();
    expectEmfLimitError(() => metrics.count(MetricNames.EventsReceived, value));
    expectEmfLimitError(() => metrics.timing(MetricNames.PublishLatencyMs, value));
  });

  it.each([
    ['empty', ''],
    ['only spaces', '   '],
    ['longer than 255 characters', 'M'.repeat(256)],
    ['not ASCII', 'Événements'],
    ['a control character', 'Events\nReceived'],
    ['a pino root field', 'level'],
    ['the EMF metadata key', '_aws'],
    ['a redacted path', 'password'],
    ['a logger binding', 'service'],
  ])('throws EMF_LIMIT when a metric name is %s', (_label, name) => {
    const { metrics } = emitter();
    expectEmfLimitError(() => metrics.count(name));
  });

  it('throws EMF_LIMIT when a metric name is also a dimension name', () => {
    const { metrics } = emitter();
    expectEmfLimitError(() => metrics.count('Service'));
  });

  it('throws EMF_LIMIT when extra dimensions make a set of more than 30', () => {
    // Prepare: the default Service dimension plus 30 extra ones makes 31.
    const { metrics } = emitter();

    // Act / Assess
    expectEmfLimitError(() =>
      metrics.count(MetricNames.EventsReceived, 1, manyDimensions(30)),
    );
    expect(() => metrics.count(MetricNames.EventsReceived, 1, manyDimensions(29))).not.toThrow();
  });

  it('throws EMF_LIMIT at construction when the default dimensions are more than 30', () => {
    const logs = captureLogs();
    expectEmfLimitError(
      () => new MetricsEmitter({ logger: logs.logger, dimensions: manyDimensions(31) }),
    );
  });

  it.each([
    ['an empty value', { SecretName: '' }],
    ['a value longer than 1024 characters', { SecretName: 'x'.repeat(1025) }],
    ['a name starting with a colon', { ':SecretName': 'prod/db' }],
    ['a pino root field as name', { time: 'now' }],
  ])('throws EMF_LIMIT when extra dimensions have %s', (_label, dimensions) => {
    const { metrics } = emitter();
    expectEmfLimitError(() => metrics.count(MetricNames.EventsReceived, 1, dimensions));
  });

  it.each([
    ['empty', ''],
    ['reserved for AWS', 'AWS/Lambda'],
    ['with a forbidden character', 'Rotation*Relay'],
    ['longer than 255 characters', 'N'.repeat(256)],
  ])('throws EMF_LIMIT at construction when the namespace is %s', (_label, namespace) => {
    const logs = captureLogs();
    expectEmfLimitError(() => new MetricsEmitter({ logger: logs.logger, namespace }));
  });

  it.each([
    ['in seconds instead of milliseconds', () => Math.floor(NOW / 1000)],
    ['more than 14 days in the past', () => NOW - 15 * DAY_MS],
    ['more than 2 hours in the future', () => NOW + 3 * 60 * 60 * 1000],
  ])('throws EMF_LIMIT at construction when the clock is %s', (_label, now) => {
    const logs = captureLogs();
    expectEmfLimitError(() => new MetricsEmitter({ logger: logs.logger, now }));
  });

  it('throws EMF_LIMIT from flush and drops the buffer when the clock leaves the window later', () => {
    // Prepare
    const logs = captureLogs();
    let clock = NOW;
    const metrics = new MetricsEmitter({ logger: logs.logger, now: () => clock, flushIntervalMs: 0 });
    metrics.count(MetricNames.EventsReceived);
    clock = NOW - 15 * DAY_MS;

    // Act / Assess
    expectEmfLimitError(() => metrics.flush());
    clock = NOW;
    metrics.flush();
    expect(logs.emfLines()).toEqual([]);
  });

  it('keeps recording after a rejected call, and writes no empty document for it', () => {
    // Prepare
    const { metrics, logs } = emitter();

    // Act
    expectEmfLimitError(() => metrics.count('', 1, { SecretName: 'prod/db' }));
    metrics.count(MetricNames.EventsReceived);
    metrics.flush();

    // Assess
    expect(logs.emfLines().map((line) => line.EventsReceived)).toEqual([1]);
  });

  it('throws METRICS_INVALID_OPTIONS when flushIntervalMs is negative', () => {
    const logs = captureLogs();
    expect(() => new MetricsEmitter({ logger: logs.logger, flushIntervalMs: -1 })).toThrow(
      expect.objectContaining({ code: 'METRICS_INVALID_OPTIONS' }),
    );
  });
});
