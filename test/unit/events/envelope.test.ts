import { describe, expect, it } from 'vitest';
import { parseEventBody } from '../../../src/relay/events/index.js';
import { body, labelUpdated } from '../../support/event-fixtures.js';

describe('parseEventBody: malformed bodies', () => {
  it.each([
    ['not JSON', '{"detail-type": ', 'body is not JSON'],
    ['an empty string', '', 'body is not JSON'],
    ['a JSON array', '[1, 2]', 'body is an array, expected a JSON object (an EventBridge event)'],
    ['JSON null', 'null', 'body is null, expected a JSON object (an EventBridge event)'],
    ['a JSON number', '42', 'body is a number, expected a JSON object (an EventBridge event)'],
    ['a JSON string', '"hello"', 'body is "hello", expected a JSON object (an EventBridge event)'],
  ])('rejects a body that is %s', (_label, text, reason) => {
    // Prepare: the body text itself

    // Act
    const result = parseEventBody(text);

    // Assess
    expect(result).toEqual({ action: 'reject', reason });
  });

  it('rejects a foreign source and keeps the event id', () => {
    // Prepare
    const event = { ...labelUpdated(), source: 'aws.s3' };

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toEqual({
      action: 'reject',
      reason: 'source is "aws.s3", expected "aws.secretsmanager"',
      eventId: 'evt-0001',
    });
  });

  it('rejects and names the field when detail is missing', () => {
    // Prepare
    const event = labelUpdated();
    delete event['detail'];

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'reject', reason: 'detail must be an object, got missing' });
  });

  it('rejects when detail is an array', () => {
    // Prepare
    const event = { ...labelUpdated(), detail: [] };

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'reject', reason: 'detail must be an object, got an array' });
  });

  it('rejects and names the field when id is missing', () => {
    // Prepare
    const event = labelUpdated();
    delete event['id'];

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toEqual({ action: 'reject', reason: 'id must be a string, got missing' });
  });

  it('rejects when resources is not an array', () => {
    // Prepare
    const event = { ...labelUpdated(), resources: 'arn' };

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'reject', reason: 'resources must be an array, got "arn"' });
  });

  it('rejects an unknown detail-type', () => {
    // Prepare
    const event = { ...labelUpdated(), 'detail-type': 'Secret Created' };

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('reject');
    expect(result.reason).toContain('Secret Created');
  });

  it('does not throw when called with a non-string from untyped code', () => {
    // Prepare
    const notAString = 42 as unknown as string;

    // Act
    const result = parseEventBody(notAString);

    // Assess
    expect(result.action).toBe('reject');
  });
});
