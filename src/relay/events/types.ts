/**
 * What the worker does with one SQS body. Every body ends in exactly one of these four:
 * - `invalidate`: the secret's AWSCURRENT value may have changed; confirm and broadcast.
 * - `alert`: something an operator must see (rotation failed or abandoned, secret deleted).
 * - `ignore`: well-formed and from Secrets Manager, but changes nothing current.
 * - `reject`: not an event we understand; the message goes to the DLQ via the redrive policy.
 */
export type EventAction = 'invalidate' | 'alert' | 'ignore' | 'reject';

/** Which of the three Secrets Manager event families a body belonged to. */
export type EventFamily = 'label-updated' | 'cloudtrail-service' | 'cloudtrail-api';

/** A body that parsed into a Secrets Manager event about one secret. */
export interface RotationEvent {
  action: 'invalidate' | 'alert' | 'ignore';
  family: EventFamily;
  /** EventBridge `detail-type`, e.g. `Secret Label Updated`. */
  detailType: string;
  /** CloudTrail `eventName` (`RotationSucceeded`, `PutSecretValue`, …); undefined for native events. */
  eventName?: string;
  /**
   * Full secret ARN when the event carries one; otherwise whatever id the event had (a name or
   * partial ARN from `requestParameters.secretId`). Always present for invalidate and alert.
   */
  secretArn?: string;
  /** The secret's name: the ARN's resource part without the `-XXXXXX` suffix, or the bare id. */
  secretName?: string;
  /** The version the event names (a hint: the worker confirms it with DescribeSecret). */
  versionId?: string;
  /**
   * True when the event itself records that `versionId` became AWSCURRENT at `eventTime`: the
   * native `Secret Label Updated` for AWSCURRENT, and a successful `UpdateSecretVersionStage`
   * moving AWSCURRENT. Not set for PutSecretValue, UpdateSecret or RotationSucceeded (their version
   * or timing is indirect). The worker may publish such an event before DescribeSecret confirms it.
   */
  movesCurrent?: true;
  /** The EventBridge event id (`id`), used for the exact-duplicate guard. */
  eventId?: string;
  /** ISO-8601 event time (`time`, else `detail.eventTime`). */
  eventTime?: string;
  /** One human sentence: why this action (`"AWSCURRENT moved to version …"`). */
  reason: string;
  /** True when the body arrived wrapped in an SNS notification. */
  viaSns?: boolean;
}

/** A body that is not a Secrets Manager event we can act on. */
export interface RejectedEvent {
  action: 'reject';
  /** One sentence naming what is wrong (`"body is not JSON"`, `"source is aws.s3, expected aws.secretsmanager"`). */
  reason: string;
  eventId?: string;
}

export type ParseResult = RotationEvent | RejectedEvent;
