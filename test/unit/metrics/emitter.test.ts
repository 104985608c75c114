import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MetricNames, MetricsEmitter, NoopMetrics, type Metrics } from '../../../src/metrics/index.js';
import { captureLogs } from '../../support/log-capture.js';
import { expectValidEmf } from '../../support/emf-assertions.js';

const NOW = Date.parse('2025-06-01T12:00:00.000Z');

describe('Class: MetricsEmitter', () => {
  beforeEach(() => {
    // Only the clock is faked here; the lifecycle tests fake the timers too.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes one whole EMF line with _aws, dimensions and values at the root when flushed', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 });

    // Act
    metrics.count(MetricNames.EventsReceived, 3);
    metrics.timing(MetricNames.PublishLatencyMs, 42);
    metrics.flush();

    // Assess
    expect(logs.lines()).toEqual([
      {
        level: 'info',
        time: new Date(NOW).toISOString(),
        service: 'rotation-relay',
        _aws: {
          Timestamp: NOW,
          CloudWatchMetrics: [
            {
              Namespace: 'RotationRelay',
              Dimensions: [['Service']],
              Metrics: [
                { Name: 'EventsReceived', Unit: 'Count' },
                { Name: 'PublishLatencyMs', Unit: 'Milliseconds' },
              ],
            },
          ],
        },
        Service: 'rotation-relay',
        EventsReceived: 3,
        PublishLatencyMs: 42,
        msg: 'emf',
      },
    ]);
    expectValidEmf(logs.lines()[0] ?? {});
  });

  it('writes the values of a metric recorded several times as an array in recording order', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 });

    // Act
    metrics.count(MetricNames.EventsReceived);
    metrics.count(MetricNames.EventsReceived, 2);
    metrics.timing(MetricNames.EventAgeMs, 120);
    metrics.timing(MetricNames.EventAgeMs, 80);
    metrics.flush();

    // Assess
    const [line, ...rest] = logs.emfLines();
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ EventsReceived: [1, 2], EventAgeMs: [120, 80] });
    expectValidEmf(line ?? {});
  });

  it('writes one line per dimension set when extra dimensions are given', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 });

    // Act
    metrics.count(MetricNames.EventsReceived);
    metrics.count(MetricNames.RotationFailures, 1, { SecretName: 'prod/db/app' });
    metrics.count(MetricNames.RotationFailures, 1, { SecretName: 'prod/redis' });
    metrics.count(MetricNames.RotationFailures, 1, { SecretName: 'prod/db/app' });
    metrics.flush();

    // Assess
    const lines = logs.emfLines();
    for (const line of lines) expectValidEmf(line);
    expect(lines.map((line) => [line.SecretName, line.EventsReceived, line.RotationFailures])).toEqual([
      [undefined, 1, undefined],
      ['prod/db/app', undefined, [1, 1]],
      ['prod/redis', undefined, 1],
    ]);
    expect(lines[1]).toMatchObject({
      Service: 'rotation-relay',
      _aws: { CloudWatchMetrics: [{ Dimensions: [['Service', 'SecretName']] }] },
    });
  });

  it('treats extra dimensions given in a different key order as the same set', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 });

    // Act
    metrics.count(MetricNames.PublishErrors, 1, { SecretName: 's', Channel: 'c' });
    metrics.count(MetricNames.PublishErrors, 1, { Channel: 'c', SecretName: 's' });
    metrics.flush();

    // Assess
    expect(logs.emfLines().map((line) => line.PublishErrors)).toEqual([[1, 1]]);
  });

  it('splits a dimension set with more than 100 metrics into several lines', () => {
    // Prepare
    const logs = captureLogs({ level: 'error' });
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 });
    const names = Array.from({ length: 250 }, (_, index) => `Custom${index}`);

    // Act
    for (const name of names) metrics.count(name, 1);
    metrics.flush();

    // Assess
    const lines = logs.emfLines();
    for (const line of lines) expectValidEmf(line);
    const metricsPerLine = lines.map((line) => {
      const aws = line._aws as { CloudWatchMetrics: [{ Metrics: { Name: string }[] }] };
      return aws.CloudWatchMetrics[0].Metrics.map((metric) => metric.Name);
    });
    expect(metricsPerLine.map((list) => list.length)).toEqual([100, 100, 50]);
    expect(metricsPerLine.flat()).toEqual(names);
  });

  it('writes the line early when a metric reaches 100 values, so no array exceeds the limit', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 });

    // Act
    for (let index = 0; index < 150; index += 1) metrics.timing(MetricNames.PublishLatencyMs, index);
    const linesBeforeFlush = logs.emfLines().length;
    metrics.flush();

    // Assess
    expect(linesBeforeFlush).toBe(1);
    const lines = logs.emfLines();
    for (const line of lines) expectValidEmf(line);
    const values = lines.map((line) => line.PublishLatencyMs as number[]);
    expect(values.map((list) => list.length)).toEqual([100, 50]);
    expect(values.flat()).toEqual(Array.from({ length: 150 }, (_, index) => index));
  });

  it('writes nothing when nothing was recorded', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 });

    // Act
    metrics.flush();
    metrics.close();

    // Assess
    expect(logs.lines()).toEqual([]);
  });

  it('uses the namespace, dimensions and clock it is given', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({
      logger: logs.logger,
      namespace: 'RotationRelay/Test',
      dimensions: { Service: 'rotation-relay', Environment: 'staging' },
      now: () => NOW - 5_000,
      flushIntervalMs: 0,
    });

    // Act
    metrics.count(MetricNames.SubscribersReached, 7);
    metrics.flush();

    // Assess
    const [line] = logs.emfLines();
    expectValidEmf(line ?? {});
    expect(line).toMatchObject({
      Environment: 'staging',
      SubscribersReached: 7,
      _aws: {
        Timestamp: NOW - 5_000,
        CloudWatchMetrics: [
          { Namespace: 'RotationRelay/Test', Dimensions: [['Service', 'Environment']] },
        ],
      },
    });
  });

  it('still writes metrics when the logger level is above info', () => {
    // Prepare
    const logs = captureLogs({ level: 'warn' });
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 });

    // Act
    metrics.count(MetricNames.RotationFailures);
    metrics.flush();
    logs.logger.info('an ordinary info line stays filtered');

    // Assess
    expect(logs.lines().map((line) => line.msg)).toEqual(['emf']);
  });

  it('writes nothing through a silent logger', () => {
    // Prepare
    const logs = captureLogs({ level: 'silent' });
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 });

    // Act
    metrics.count(MetricNames.RotationFailures);
    metrics.flush();

    // Assess
    expect(logs.lines()).toEqual([]);
  });

  it('warns once and still emits when a metric name is not in names.ts', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 });

    // Act
    metrics.count('NotInNamesTs');
    metrics.flush();
    metrics.count('NotInNamesTs');
    metrics.timing('AlsoUnknownMs', 5);
    metrics.flush();

    // Assess
    const warnings = logs.lines().filter((line) => line.level === 'warn');
    expect(warnings.map((line) => line.metric)).toEqual(['NotInNamesTs', 'AlsoUnknownMs']);
    expect(logs.emfLines().map((line) => [line.NotInNamesTs, line.AlsoUnknownMs])).toEqual([
      [1, undefined],
      [1, 5],
    ]);
  });

  it('emits the names.ts unit and warns once when a metric is recorded with another unit', () => {
    // Prepare
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 });

    // Act
    metrics.count(MetricNames.PublishLatencyMs, 12);
    metrics.flush();

    // Assess
    const [line] = logs.emfLines();
    expect(line?._aws).toMatchObject({
      CloudWatchMetrics: [{ Metrics: [{ Name: 'PublishLatencyMs', Unit: 'Milliseconds' }] }],
    });
    expect(logs.lines().filter((entry) => entry.level === 'warn')).toHaveLength(1);
  });
});

describe('Class: NoopMetrics', () => {
  it('accepts every call of the Metrics interface and does nothing', () => {
    // Prepare
    const metrics: Metrics = new NoopMetrics();

    // Act
    const act = (): void => {
      metrics.count(MetricNames.EventsReceived);
      metrics.count('Anything', Number.NaN, { Key: 'value' });
      metrics.timing(MetricNames.RefreshLatencyMs, 3);
      metrics.flush();
      metrics.close();
    };

    // Assess
    expect(act).not.toThrow();
  });
});
