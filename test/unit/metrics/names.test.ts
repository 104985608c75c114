import { describe, expect, it } from 'vitest';
import {
  ALL_METRIC_NAMES,
  CLOUDWATCH_UNITS,
  METRIC_DEFINITIONS,
  METRIC_NAMESPACE,
  MetricNames,
  isMetricName,
} from '../../../src/metrics/index.js';

describe('Module: metric names', () => {
  it('lists the metrics of the design, in namespace RotationRelay', () => {
    expect(METRIC_NAMESPACE).toBe('RotationRelay');
    expect([...ALL_METRIC_NAMES].sort()).toEqual(
      [
        'EventsReceived',
        'InvalidationsPublished',
        'EventsIgnored',
        'EventsInvalid',
        'EventsDeadLettered',
        'DuplicateEvents',
        'RotationFailures',
        'PublishLatencyMs',
        'EventAgeMs',
        'SubscribersReached',
        'PublishErrors',
        'EventsAlerted',
        'InstancesStale',
        'RefreshLatencyMs',
        'RefreshFailures',
        'AuthFailureRecoveries',
        'MissedByEvents',
        'PresenceWriteFailures',
        'CredentialValidationFailures',
        'VersionsStateLost',
        'InvalidationsRejected',
        'RefreshesThrottled',
        'ClockSkewDetected',
      ].sort(),
    );
  });

  it('gives every name a CloudWatch unit, Milliseconds exactly for the *Ms metrics', () => {
    for (const name of ALL_METRIC_NAMES) {
      const { unit } = METRIC_DEFINITIONS[name];
      expect(CLOUDWATCH_UNITS).toContain(unit);
      expect(unit).toBe(name.endsWith('Ms') ? 'Milliseconds' : 'Count');
    }
  });

  it('maps every key of MetricNames to itself, so a call site reads like the emitted name', () => {
    for (const [key, value] of Object.entries(MetricNames)) expect(value).toBe(key);
  });

  it('recognises only the listed names', () => {
    expect(isMetricName('RotationFailures')).toBe(true);
    expect(isMetricName('rotationfailures')).toBe(false);
    expect(isMetricName('toString')).toBe(false);
  });
});
