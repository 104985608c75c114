import { describe, expect, it } from 'vitest';
import { parseEventBody } from '../../../src/relay/events/index.js';
import { ARN, NAME, VERSION, body, labelUpdated } from '../../support/event-fixtures.js';

describe('parseEventBody: label-updated', () => {
  it('invalidates with the new version when AWSCURRENT moved', () => {
    // Prepare
    const event = labelUpdated({ name: NAME });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({
      action: 'invalidate',
      family: 'label-updated',
      detailType: 'Secret Label Updated',
      secretArn: ARN,
      secretName: NAME,
      versionId: VERSION,
      eventId: 'evt-0001',
      eventTime: '2025-01-02T03:04:05Z',
    });
  });

  it('ignores and names the label when a custom label moved', () => {
    // Prepare
    const event = labelUpdated({ label: 'MYLABEL' });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'ignore', secretArn: ARN });
    expect(result.reason).toContain('MYLABEL');
  });

  it('rejects when detail.name disagrees with the ARN in resources[0]', () => {
    // Prepare
    const event = labelUpdated({ name: 'other/secret' });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'reject', eventId: 'evt-0001' });
    expect(result.reason).toContain('detail.name');
  });

  it('rejects when resources holds an S3 ARN', () => {
    // Prepare
    const event = labelUpdated({ arn: 'arn:aws:s3:::my-bucket' });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('reject');
    expect(result.reason).toContain('resources[0]');
  });

  it('rejects when resources is empty', () => {
    // Prepare
    const event = { ...labelUpdated(), resources: [] };

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('reject');
    expect(result.reason).toContain('resources[0] is missing');
  });

  it('rejects and names the field when labelUpdated is not a string', () => {
    // Prepare
    const event = labelUpdated();
    (event['detail'] as Record<string, unknown>)['labelUpdated'] = 42;

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'reject', reason: 'detail.labelUpdated must be a string, got a number' });
  });

  it.each([
    ['an RDS-managed name', 'rds!db-0e3b8c2f-8f5a-4b7e-9a1c-2d3e4f5a6b7c'],
    ['a path name', 'team/app/prod/db'],
    ['a name with + = . @', 'svc+a=b.c@example'],
    ['a name with underscores and dashes', 'my_app-db-creds'],
  ])('invalidates for %s', (_label, name) => {
    // Prepare
    const arn = `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-Zz9Yy8`;
    const event = labelUpdated({ arn, name });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', secretArn: arn, secretName: name });
  });

  it('falls back to detail.eventTime when the envelope has no time', () => {
    // Prepare
    const event = labelUpdated();
    delete event['time'];
    (event['detail'] as Record<string, unknown>)['eventTime'] = '2025-05-05T05:05:05Z';

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', eventTime: '2025-05-05T05:05:05Z' });
  });
});
