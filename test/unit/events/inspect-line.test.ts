import { describe, expect, it } from 'vitest';
import { type ParseResult, parseEventBody, toInspectLine } from '../../../src/relay/events/index.js';
import { readSample } from '../../support/event-fixtures.js';

describe('toInspectLine', () => {
  it('prints one line with the keys in the fixed order', () => {
    // Prepare: fields set in a different order, plus ones the line leaves out
    const result: ParseResult = {
      reason: 'AWSCURRENT moved',
      eventTime: '2025-01-01T00:00:00Z',
      eventId: 'evt-1',
      versionId: 'v1',
      secretName: 'prod/db',
      secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf',
      detailType: 'Secret Label Updated',
      family: 'label-updated',
      viaSns: true,
      action: 'invalidate',
    };

    // Act
    const line = toInspectLine(result);

    // Assess
    expect(line).not.toContain('\n');
    expect(Object.keys(JSON.parse(line) as object)).toEqual([
      'action',
      'secretArn',
      'secretName',
      'versionId',
      'eventId',
      'eventTime',
      'reason',
    ]);
  });

  it('omits undefined fields of a rejection', () => {
    // Prepare
    const result = parseEventBody('not json');

    // Act
    const line = toInspectLine(result);

    // Assess
    expect(line).toBe('{"action":"reject","reason":"body is not JSON"}');
  });

  it('prints the rotation-failed sample without a versionId', () => {
    // Prepare
    const result = parseEventBody(readSample('rotation-failed.json'));

    // Act
    const line = toInspectLine(result);

    // Assess
    expect(Object.keys(JSON.parse(line) as object)).toEqual(['action', 'secretArn', 'secretName', 'eventId', 'eventTime', 'reason']);
  });
});
