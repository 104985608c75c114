import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MetricNames, MetricsEmitter } from '../../../src/metrics/index.js';
import { captureLogs } from '../../support/log-capture.js';

const NOW = Date.parse('2025-06-01T12:00:00.000Z');

describe('Class: MetricsEmitter (automatic flush and close)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('flushes automatically after flushIntervalMs and not before', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 10_000 });
    metrics.count(MetricNames.EventsReceived);

    // Act
    vi.advanceTimersByTime(9_999);
    const linesBefore = logs.emfLines().length;
    vi.advanceTimersByTime(1);

    // Assess
    expect(linesBefore).toBe(0);
    expect(logs.emfLines()).toMatchObject([{ EventsReceived: 1, _aws: { Timestamp: NOW + 10_000 } }]);
    metrics.close();
  });

  it('flushes every 10 seconds by default, each period on its own line', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger });

    // Act
    metrics.count(MetricNames.EventsReceived);
    vi.advanceTimersByTime(10_000);
    metrics.count(MetricNames.EventsReceived, 4);
    vi.advanceTimersByTime(10_000);
    vi.advanceTimersByTime(10_000);

    // Assess
    expect(logs.emfLines().map((line) => line.EventsReceived)).toEqual([1, 4]);
    metrics.close();
  });

  it('writes nothing on an automatic flush when nothing was recorded', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger });

    // Act
    vi.advanceTimersByTime(60_000);
    metrics.close();

    // Assess
    expect(logs.lines()).toEqual([]);
  });

  it('does not keep the process alive with its timer', () => {
    // Prepare
    const logs = captureLogs();
    const setIntervalSpy = vi.spyOn(globalThis, 'setInterval');

    // Act
    const metrics = new MetricsEmitter({ logger: logs.logger });

    // Assess
    const timer = setIntervalSpy.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    metrics.close();
    setIntervalSpy.mockRestore();
  });

  it('flushes on close() and stops the automatic flush', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 1_000 });
    metrics.count(MetricNames.InvalidationsPublished, 2);

    // Act
    metrics.close();
    metrics.close();

    // Assess
    expect(logs.emfLines().map((line) => line.InvalidationsPublished)).toEqual([2]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('writes a value recorded after close() at once, so late in-flight work is not lost', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger });
    metrics.close();

    // Act
    metrics.count(MetricNames.RefreshFailures);

    // Assess
    expect(logs.emfLines().map((line) => line.RefreshFailures)).toEqual([1]);
  });

  it('logs an error instead of throwing when an automatic flush fails', () => {
    // Prepare
    const logs = captureLogs();
    let clock = NOW;
    const metrics = new MetricsEmitter({ logger: logs.logger, now: () => clock });
    metrics.count(MetricNames.EventsReceived);
    clock = 0;

    // Act
    vi.advanceTimersByTime(10_000);

    // Assess
    const errors = logs.lines().filter((line) => line.level === 'error');
    expect(errors).toMatchObject([{ err: { code: 'EMF_LIMIT' } }]);
    expect(logs.emfLines()).toEqual([]);
    metrics.close();
  });
});
