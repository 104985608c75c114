import { describe, expect, it } from 'vitest';
import { parseEventBody } from '../../../src/relay/events/index.js';
import { ARN, VERSION, body, labelUpdated, readSampleJson, snsWrap } from '../../support/event-fixtures.js';

describe('parseEventBody: sns', () => {
  it('unwraps an SNS notification and marks the result viaSns', () => {
    // Prepare
    const wrapped = snsWrap(labelUpdated());

    // Act
    const result = parseEventBody(body(wrapped));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', secretArn: ARN, versionId: VERSION, viaSns: true, eventId: 'evt-0001' });
  });

  it('unwraps an SNS-wrapped shared sample', () => {
    // Prepare
    const wrapped = snsWrap(readSampleJson('rotation-failed.json'));

    // Act
    const result = parseEventBody(body(wrapped));

    // Assess
    expect(result).toMatchObject({ action: 'alert', viaSns: true });
  });

  it('rejects an SNS notification nested in another', () => {
    // Prepare
    const wrapped = snsWrap(snsWrap(labelUpdated()));

    // Act
    const result = parseEventBody(body(wrapped));

    // Assess
    expect(result.action).toBe('reject');
    expect(result.reason).toContain('another SNS notification');
  });

  it('rejects an SNS notification whose Message is not JSON', () => {
    // Prepare
    const wrapped = { ...snsWrap(labelUpdated()), Message: 'hello' };

    // Act
    const result = parseEventBody(body(wrapped));

    // Assess
    expect(result).toEqual({ action: 'reject', reason: 'SNS notification Message is not JSON' });
  });

  it('rejects an SNS notification without a string Message', () => {
    // Prepare
    const wrapped = { ...snsWrap(labelUpdated()), Message: { already: 'an object' } };

    // Act
    const result = parseEventBody(body(wrapped));

    // Assess
    expect(result.action).toBe('reject');
    expect(result.reason).toContain('SNS notification');
  });

  it('does not mark a direct EventBridge body viaSns', () => {
    // Prepare
    const event = labelUpdated();

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).not.toHaveProperty('viaSns');
  });
});
