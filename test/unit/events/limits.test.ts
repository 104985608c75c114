import { describe, expect, it } from 'vitest';
import { EVENT_LIMITS, parseEventBody } from '../../../src/relay/events/index.js';
import { INVALIDATION_FIELD_LIMITS } from '../../../src/protocol/invalidation.js';
import { ARN, apiCall, body, envelope, labelUpdated, snsWrap } from '../../support/event-fixtures.js';

const LONG = (n: number) => 'x'.repeat(n);

describe('parseEventBody: every field taken from an event has a maximum', () => {
  it('shares the maxima of the fields that reach an invalidation with the protocol', () => {
    expect(EVENT_LIMITS.id).toBe(INVALIDATION_FIELD_LIMITS.eventId);
    expect(EVENT_LIMITS.time).toBe(INVALIDATION_FIELD_LIMITS.eventTime);
    expect(EVENT_LIMITS.versionId).toBe(INVALIDATION_FIELD_LIMITS.versionId);
    expect(EVENT_LIMITS.secretId).toBe(INVALIDATION_FIELD_LIMITS.secretArn);
    expect(EVENT_LIMITS.secretName).toBe(INVALIDATION_FIELD_LIMITS.secretName);
  });

  it.each([
    ['a 70,000-character id', { ...labelUpdated(), id: LONG(70_000) }, 'id is 70000 characters, more than the 256 allowed'],
    ['an id one over the maximum', { ...labelUpdated(), id: LONG(257) }, 'id is 257 characters, more than the 256 allowed'],
    ['a newline in the id', { ...labelUpdated(), id: 'evt-1\nforged' }, 'id must not contain control characters or line breaks, got "evt-1 forged"'],
    ['a line separator in the id', { ...labelUpdated(), id: 'evt-1\u2028' }, 'id must not contain control characters or line breaks, got "evt-1"'],
    ['a time that is not a date', { ...labelUpdated(), time: 'yesterday' }, 'time must be an ISO-8601 date-time with Z or an offset, got "yesterday"'],
    ['a time without an offset', { ...labelUpdated(), time: '2025-01-02T03:04:05' }, 'time must be an ISO-8601 date-time with Z or an offset, got "2025-01-02T03:04:05"'],
    ['an oversized detail-type', { ...labelUpdated(), 'detail-type': LONG(129) }, 'detail-type is 129 characters, more than the 128 allowed'],
    ['21 resources', { ...labelUpdated(), resources: Array.from({ length: 21 }, () => ARN) }, 'resources has 21 entries, more than the 20 allowed'],
    ['an oversized resource', { ...labelUpdated(), resources: [LONG(2049)] }, 'resources[0] is 2049 characters, more than the 2048 allowed'],
  ])('rejects a body with %s, naming the field without echoing a long value', (_label, event, reason) => {
    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'reject', reason });
    expect(result.reason.length).toBeLessThan(200);
  });

  it('keeps only a shortened id on the rejection of an oversized one, for the DLQ reader', () => {
    // Act
    const result = parseEventBody(body({ ...labelUpdated(), id: LONG(70_000) }));

    // Assess
    expect(result.eventId?.length).toBeLessThanOrEqual(100);
  });

  it.each([
    ['a 65-character versionId', labelUpdated({ versionId: LONG(65) }), 'detail.versionId is 65 characters, more than the 64 allowed'],
    ['a tab in versionId', labelUpdated({ versionId: 'v-1\tx' }), 'detail.versionId must not contain control characters or line breaks, got "v-1 x"'],
    ['an oversized label', labelUpdated({ label: LONG(257) }), 'detail.labelUpdated is 257 characters, more than the 256 allowed'],
    ['an oversized name', labelUpdated({ name: LONG(513) }), 'detail.name is 513 characters, more than the 512 allowed'],
  ])('rejects a Secret Label Updated with %s', (_label, event, reason) => {
    expect(parseEventBody(body(event))).toMatchObject({ action: 'reject', reason, eventId: 'evt-0001' });
  });

  it.each([
    [
      'an UpdateSecretVersionStage moving to a 70-character version',
      apiCall('UpdateSecretVersionStage', { requestParameters: { secretId: ARN, versionStage: 'AWSCURRENT', moveToVersionId: LONG(70) } }),
      'the version id the event names is 70 characters, more than the 64 allowed',
    ],
    [
      'a PutSecretValue whose new version id holds a newline',
      apiCall('PutSecretValue', { responseElements: { arn: ARN, versionId: 'v-1\nv-2' } }),
      'the version id the event names must not contain control characters or line breaks, got "v-1 v-2"',
    ],
    [
      'an oversized eventName',
      apiCall(LONG(129)),
      'detail.eventName is 129 characters, more than the 128 allowed',
    ],
    [
      '21 versionStages',
      apiCall('PutSecretValue', { requestParameters: { secretId: ARN, versionStages: Array.from({ length: 21 }, () => 'AWSCURRENT') } }),
      'detail.requestParameters.versionStages has 21 entries, more than the 20 allowed',
    ],
    [
      'an oversized staging label in versionStages',
      apiCall('PutSecretValue', { requestParameters: { secretId: ARN, versionStages: ['AWSCURRENT', LONG(257)] } }),
      'detail.requestParameters.versionStages[1] is 257 characters, more than the 256 allowed',
    ],
    [
      'an oversized versionStage',
      apiCall('UpdateSecretVersionStage', { requestParameters: { secretId: ARN, versionStage: LONG(257), moveToVersionId: 'v-2' } }),
      'detail.requestParameters.versionStage is 257 characters, more than the 256 allowed',
    ],
  ])('rejects a CloudTrail API call with %s', (_label, event, reason) => {
    expect(parseEventBody(body(event))).toMatchObject({ action: 'reject', reason });
  });

  it('rejects an invalid detail.eventTime when the envelope has no time, since it would be the event time', () => {
    // Prepare
    const event = apiCall('PutSecretValue', { eventTime: 'not a time' });
    delete event['time'];

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'reject', reason: 'detail.eventTime is "not a time", expected an ISO-8601 date-time with Z or an offset' });
  });

  it('ignores an invalid detail.eventTime when the envelope has a time, which wins', () => {
    // Act
    const result = parseEventBody(body(apiCall('PutSecretValue', { eventTime: 'not a time' })));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', eventTime: '2025-01-02T03:04:05Z' });
  });

  it('rejects a body longer than the limit before parsing it, bare or SNS-wrapped', () => {
    // Prepare
    const padded = envelope('Secret Label Updated', { labelUpdated: 'AWSCURRENT', padding: LONG(EVENT_LIMITS.bodyLength) }, { resources: [ARN] });

    // Act
    const bare = parseEventBody(body(padded));
    const wrapped = parseEventBody(body(snsWrap(padded)));

    // Assess
    expect(bare.reason).toMatch(/^body is \d+ characters, more than the 524288 allowed/);
    expect(wrapped.reason).toMatch(/^body is \d+ characters, more than the 524288 allowed/);
  });

  it('accepts every field at its maximum', () => {
    // Prepare
    const event = { ...labelUpdated({ versionId: LONG(64), label: 'AWSCURRENT' }), id: LONG(256), time: '2025-01-02T03:04:05.123456789+02:00' };

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', eventId: LONG(256), versionId: LONG(64) });
  });
});
