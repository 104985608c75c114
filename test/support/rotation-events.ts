import { randomUUID } from 'node:crypto';
import { envelope } from './event-fixtures.js';

/**
 * The events AWS sends for real secrets, built around ARNs and versions that exist in moto, with
 * a fresh EventBridge id each (a redelivery reuses the object as it is).
 */
export function labelUpdatedEvent(arn: string, versionId: string, label = 'AWSCURRENT'): Record<string, unknown> {
  return envelope('Secret Label Updated', { labelUpdated: label, versionId }, { id: randomUUID(), time: new Date().toISOString(), resources: [arn] });
}

export function rotationSucceededEvent(arn: string): Record<string, unknown> {
  const now = new Date().toISOString();
  return envelope(
    'AWS Service Event via CloudTrail',
    {
      eventVersion: '1.08',
      eventTime: now,
      eventSource: 'secretsmanager.amazonaws.com',
      eventName: 'RotationSucceeded',
      requestParameters: null,
      responseElements: null,
      additionalEventData: { SecretId: arn },
      eventType: 'AwsServiceEvent',
    },
    { id: randomUUID(), time: now },
  );
}

function apiCallEvent(eventName: string, arn: string, requestParameters: Record<string, unknown>): Record<string, unknown> {
  const now = new Date().toISOString();
  return envelope(
    'AWS API Call via CloudTrail',
    {
      eventVersion: '1.09',
      eventTime: now,
      eventSource: 'secretsmanager.amazonaws.com',
      eventName,
      requestParameters: { secretId: arn, ...requestParameters },
      responseElements: { arn },
      eventType: 'AwsApiCall',
    },
    { id: randomUUID(), time: now },
  );
}

/** The createSecret step's put: must not invalidate. */
export function putPendingEvent(arn: string, versionId: string): Record<string, unknown> {
  return apiCallEvent('PutSecretValue', arn, { clientRequestToken: versionId, versionStages: ['AWSPENDING'] });
}

/** The finishSecret step (or a manual roll-back). */
export function moveCurrentEvent(arn: string, moveToVersionId: string, removeFromVersionId?: string): Record<string, unknown> {
  return apiCallEvent('UpdateSecretVersionStage', arn, {
    versionStage: 'AWSCURRENT',
    moveToVersionId,
    ...(removeFromVersionId ? { removeFromVersionId } : {}),
  });
}

/** Every event one rotation produces, in the order AWS emits them. */
export function rotationEvents(arn: string, newVersionId: string, oldVersionId: string): Array<Record<string, unknown>> {
  return [
    putPendingEvent(arn, newVersionId),
    moveCurrentEvent(arn, newVersionId, oldVersionId),
    rotationSucceededEvent(arn),
    labelUpdatedEvent(arn, newVersionId),
  ];
}
