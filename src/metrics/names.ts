import type { MetricUnit } from './emf-limits.js';

/**
 * The single source of truth for metric names and units. The emitter warns about names missing
 * here, and the infra dashboard and alarm test derives its list from `ALL_METRIC_NAMES`, so a
 * metric renamed in code cannot silently leave a dashboard graph or an alarm empty.
 */

export const METRIC_NAMESPACE = 'RotationRelay';

export const MetricNames = {
  // Worker
  EventsReceived: 'EventsReceived',
  InvalidationsPublished: 'InvalidationsPublished',
  EventsIgnored: 'EventsIgnored',
  EventsInvalid: 'EventsInvalid',
  EventsDeadLettered: 'EventsDeadLettered',
  DuplicateEvents: 'DuplicateEvents',
  RotationFailures: 'RotationFailures',
  PublishLatencyMs: 'PublishLatencyMs',
  EventAgeMs: 'EventAgeMs',
  SubscribersReached: 'SubscribersReached',
  PublishErrors: 'PublishErrors',
  EventsAlerted: 'EventsAlerted',
  InstancesStale: 'InstancesStale',
  // Subscriber
  RefreshLatencyMs: 'RefreshLatencyMs',
  RefreshFailures: 'RefreshFailures',
  AuthFailureRecoveries: 'AuthFailureRecoveries',
  MissedByEvents: 'MissedByEvents',
  PresenceWriteFailures: 'PresenceWriteFailures',
  CredentialValidationFailures: 'CredentialValidationFailures',
  VersionsStateLost: 'VersionsStateLost',
  InvalidationsRejected: 'InvalidationsRejected',
  RefreshesThrottled: 'RefreshesThrottled',
  ClockSkewDetected: 'ClockSkewDetected',
} as const;

export type MetricName = (typeof MetricNames)[keyof typeof MetricNames];

export interface MetricDefinition {
  /** The CloudWatch unit the metric is always emitted with (a unit change splits its statistics). */
  readonly unit: MetricUnit;
  /** Which process emits it: the SQS worker or every subscribing app instance. */
  readonly emittedBy: 'worker' | 'subscriber';
  /** What one data point means, for dashboards and alarm descriptions. */
  readonly description: string;
}

/** Typed as a mapped type over `MetricName` so a name without a unit fails to compile. */
export const METRIC_DEFINITIONS: { readonly [N in MetricName]: MetricDefinition } = {
  EventsReceived: {
    unit: 'Count',
    emittedBy: 'worker',
    description: 'Secrets Manager events taken off the SQS queue',
  },
  InvalidationsPublished: {
    unit: 'Count',
    emittedBy: 'worker',
    description: 'Invalidations published to Redis',
  },
  EventsIgnored: {
    unit: 'Count',
    emittedBy: 'worker',
    description: 'Well-formed events that need no invalidation',
  },
  EventsInvalid: {
    unit: 'Count',
    emittedBy: 'worker',
    description: 'Malformed or hostile message bodies (they end in the DLQ)',
  },
  EventsDeadLettered: {
    unit: 'Count',
    emittedBy: 'worker',
    description: 'Rejected bodies the worker sent to the DLQ itself, on their first receive (the rest wait for maxReceiveCount)',
  },
  DuplicateEvents: {
    unit: 'Count',
    emittedBy: 'worker',
    description: 'Events already handled; the publish was skipped by dedupe',
  },
  RotationFailures: {
    unit: 'Count',
    emittedBy: 'worker',
    description: 'Rotations Secrets Manager reported as failed (alarmed)',
  },
  PublishLatencyMs: {
    unit: 'Milliseconds',
    emittedBy: 'worker',
    description: 'SQS receive to publish',
  },
  EventAgeMs: {
    unit: 'Milliseconds',
    emittedBy: 'worker',
    description: 'Event time to publish',
  },
  SubscribersReached: {
    unit: 'Count',
    emittedBy: 'worker',
    description: "Subscribers that received an invalidation (PUBLISH's return)",
  },
  PublishErrors: {
    unit: 'Count',
    emittedBy: 'worker',
    description: 'Failed publishes; the message is left for redelivery',
  },
  EventsAlerted: {
    unit: 'Count',
    emittedBy: 'worker',
    description: 'Alerts other than rotation failures, e.g. DeleteSecret',
  },
  InstancesStale: {
    unit: 'Count',
    emittedBy: 'worker',
    description: 'Live app instances on another version than the last broadcast for over a minute (alarmed)',
  },
  RefreshLatencyMs: {
    unit: 'Milliseconds',
    emittedBy: 'subscriber',
    description: 'Invalidation received to new credentials in place',
  },
  RefreshFailures: {
    unit: 'Count',
    emittedBy: 'subscriber',
    description: 'Credential refreshes that failed; the last good credentials keep serving',
  },
  AuthFailureRecoveries: {
    unit: 'Count',
    emittedBy: 'subscriber',
    description: 'Authentication failures recovered by an on-demand refresh',
  },
  MissedByEvents: {
    unit: 'Count',
    emittedBy: 'subscriber',
    description: 'Version changes found by reconcile or poll rather than an event (alarmed)',
  },
  PresenceWriteFailures: {
    unit: 'Count',
    emittedBy: 'subscriber',
    description: 'Presence or ack writes that failed (NOPERM, timeout, connection): the instance is invisible to status and wait-converged',
  },
  CredentialValidationFailures: {
    unit: 'Count',
    emittedBy: 'subscriber',
    description: 'New credentials a rotating client checked before switching (validateBeforeSwitch) and the server refused; the current ones stay in use, retried with backoff',
  },
  VersionsStateLost: {
    unit: 'Count',
    emittedBy: 'subscriber',
    description: 'Reconciles that found the versions hash emptied or missing a secret seen there before (Redis restart, failover, FLUSHALL)',
  },
  InvalidationsRejected: {
    unit: 'Count',
    emittedBy: 'subscriber',
    description: 'Invalidations refused by the verifier (dimension Reason: its failure code); forged, replayed, or from a skewed clock',
  },
  RefreshesThrottled: {
    unit: 'Count',
    emittedBy: 'subscriber',
    description: "Refreshes an invalidation asked for that the per-secret read budget refused (a flood); the poll and genuine rotations still get through",
  },
  ClockSkewDetected: {
    unit: 'Count',
    emittedBy: 'subscriber',
    description: "Signed invalidations rejected because this host's clock and the worker's differ by more than the tolerance",
  },
};

export const ALL_METRIC_NAMES: readonly MetricName[] = Object.freeze(Object.values(MetricNames));

export function isMetricName(name: string): name is MetricName {
  return Object.hasOwn(METRIC_DEFINITIONS, name);
}
