import { readFileSync } from 'node:fs';

/**
 * Builders for event variants. The real AWS samples in infra/samples are used as they are; these
 * build the shapes the samples do not cover, with the same field spellings.
 */

export const SAMPLE_FILES = [
  'secret-label-updated.json',
  'rotation-succeeded.json',
  'rotation-failed.json',
  'put-secret-value.json',
] as const;

export type SampleFile = (typeof SAMPLE_FILES)[number];

/** The raw text of one of the real AWS samples in infra/samples. */
export function readSample(file: SampleFile): string {
  return readFileSync(new URL(`../../infra/samples/${file}`, import.meta.url), 'utf8');
}

export function readSampleJson(file: SampleFile): Record<string, unknown> {
  return JSON.parse(readSample(file)) as Record<string, unknown>;
}

export const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
export const NAME = 'prod/db';
export const VERSION = '11111111-2222-3333-4444-555555555555';

type Json = Record<string, unknown>;

/** An EventBridge envelope around `detail`; `overrides` replace envelope fields. */
export function envelope(detailType: string, detail: Json, overrides: Json = {}): Json {
  return {
    version: '0',
    id: 'evt-0001',
    'detail-type': detailType,
    source: 'aws.secretsmanager',
    account: '123456789012',
    time: '2025-01-02T03:04:05Z',
    region: 'eu-west-1',
    resources: [],
    detail,
    ...overrides,
  };
}

export function labelUpdated(options: { label?: string; arn?: unknown; name?: string; versionId?: string } = {}): Json {
  const detail: Json = { labelUpdated: options.label ?? 'AWSCURRENT', versionId: options.versionId ?? VERSION };
  if (options.name !== undefined) detail['name'] = options.name;
  return envelope('Secret Label Updated', detail, { resources: [options.arn ?? ARN] });
}

export function serviceEvent(eventName: string, detail: Json = {}): Json {
  return envelope('AWS Service Event via CloudTrail', {
    eventVersion: '1.08',
    eventTime: '2025-01-02T03:04:05Z',
    eventSource: 'secretsmanager.amazonaws.com',
    eventName,
    requestParameters: null,
    responseElements: null,
    additionalEventData: { SecretId: ARN },
    eventType: 'AwsServiceEvent',
    ...detail,
  });
}

export function apiCall(eventName: string, detail: Json = {}): Json {
  return envelope('AWS API Call via CloudTrail', {
    eventVersion: '1.09',
    eventTime: '2025-01-02T03:04:05Z',
    eventSource: 'secretsmanager.amazonaws.com',
    eventName,
    requestParameters: { secretId: NAME },
    responseElements: { arn: ARN },
    eventType: 'AwsApiCall',
    ...detail,
  });
}

/** `event` as an SNS notification body (what SQS receives without raw message delivery). */
export function snsWrap(event: unknown): Json {
  return {
    Type: 'Notification',
    MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
    TopicArn: 'arn:aws:sns:eu-west-1:123456789012:secret-events',
    Message: JSON.stringify(event),
    Timestamp: '2025-01-02T03:04:06.000Z',
    SignatureVersion: '1',
  };
}

export function body(value: unknown): string {
  return JSON.stringify(value);
}
