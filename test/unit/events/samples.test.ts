import { describe, expect, it } from 'vitest';
import { parseEventBody } from '../../../src/relay/events/index.js';
import { type SampleFile, readSample } from '../../support/event-fixtures.js';

interface Expected {
  file: SampleFile;
  action: 'invalidate' | 'alert';
  family: string;
  eventName?: string;
  secretArn: string;
  secretName: string;
  versionId?: string;
  eventId: string;
  eventTime: string;
}

const EXPECTED: Expected[] = [
  {
    file: 'secret-label-updated.json',
    action: 'invalidate',
    family: 'label-updated',
    secretArn: 'arn:aws:secretsmanager:us-west-2:012345678901:secret:mySecret-a1b2c3',
    secretName: 'mySecret',
    versionId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
    eventId: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    eventTime: '2024-02-06T16:43:48Z',
  },
  {
    file: 'rotation-succeeded.json',
    action: 'invalidate',
    family: 'cloudtrail-service',
    eventName: 'RotationSucceeded',
    secretArn: 'arn:aws:secretsmanager:us-west-2:accountid:secret:Appuser-pyodbc-WoDpmU',
    secretName: 'Appuser-pyodbc',
    eventId: 'dd5fd657-7361-f5d2-0c0f-0fe27390611b',
    eventTime: '2021-08-13T19:17:16Z',
  },
  {
    file: 'rotation-failed.json',
    action: 'alert',
    family: 'cloudtrail-service',
    eventName: 'RotationFailed',
    secretArn: 'arn:aws:secretsmanager:us-east-2:123456789012:secret:MyDatabaseSecret-a1b2c3',
    secretName: 'MyDatabaseSecret',
    eventId: '0b0c5f4e-8d3f-4a34-9f8e-2f1c2b9f7a10',
    eventTime: '2022-09-13T02:17:48Z',
  },
  {
    file: 'put-secret-value.json',
    action: 'invalidate',
    family: 'cloudtrail-api',
    eventName: 'PutSecretValue',
    secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/test-secret-123456',
    secretName: 'prod/test-secret',
    eventId: '79f04f06-924c-7a00-b3f8-e532167d23e0',
    eventTime: '2024-10-23T12:26:45Z',
  },
];

describe('parseEventBody: shared samples', () => {
  it.each(EXPECTED)('returns $action for $file', (expected) => {
    // Prepare
    const text = readSample(expected.file);

    // Act
    const result = parseEventBody(text);

    // Assess
    expect(result).toMatchObject({
      action: expected.action,
      family: expected.family,
      secretArn: expected.secretArn,
      secretName: expected.secretName,
      eventId: expected.eventId,
      eventTime: expected.eventTime,
    });
    if (result.action === 'reject') throw new Error('unreachable');
    expect(result.versionId).toBe(expected.versionId);
    expect(result.eventName).toBe(expected.eventName);
    expect(result.viaSns).toBeUndefined();
  });

  it('includes the AWS error message in the reason when the rotation failed', () => {
    // Prepare
    const text = readSample('rotation-failed.json');

    // Act
    const result = parseEventBody(text);

    // Assess
    expect(result.reason).toContain('during setSecret step');
    expect(result.reason).toContain('MyDatabaseSecret');
  });
});
