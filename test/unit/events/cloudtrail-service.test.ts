import { describe, expect, it } from 'vitest';
import { parseEventBody } from '../../../src/relay/events/index.js';
import { ARN, NAME, body, serviceEvent } from '../../support/event-fixtures.js';

const REQUEST_ID = `Rotation-${ARN}-eeb681b1-a07d-4aeb-9b61-1ee6590ec295`;

describe('parseEventBody: cloudtrail-service', () => {
  it('invalidates when the rotation succeeded', () => {
    // Prepare
    const event = serviceEvent('RotationSucceeded');

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({
      action: 'invalidate',
      family: 'cloudtrail-service',
      eventName: 'RotationSucceeded',
      secretArn: ARN,
      secretName: NAME,
    });
  });

  it('alerts with the error message when the rotation failed', () => {
    // Prepare
    const event = serviceEvent('RotationFailed', { errorMessage: 'Lambda timed out during testSecret step' });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'alert', eventName: 'RotationFailed', secretArn: ARN });
    expect(result.reason).toContain('Lambda timed out during testSecret step');
  });

  it('alerts when the rotation was abandoned', () => {
    // Prepare
    const event = serviceEvent('RotationAbandoned');

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'alert', eventName: 'RotationAbandoned', secretArn: ARN });
  });

  it('caps and flattens a long multi-line error message in the alert reason', () => {
    // Prepare
    const event = serviceEvent('RotationFailed', { errorMessage: `first line\nsecond line ${'x'.repeat(1000)}` });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('alert');
    expect(result.reason).not.toContain('\n');
    expect(result.reason.length).toBeLessThan(400);
    expect(result.reason).toContain('first line second line');
  });

  it.each(['RotationStarted', 'TestRotationStarted', 'TestRotationSucceeded', 'TestRotationFailed'])(
    'ignores %s',
    (eventName) => {
      // Prepare
      const event = serviceEvent(eventName);

      // Act
      const result = parseEventBody(body(event));

      // Assess
      expect(result).toMatchObject({ action: 'ignore', eventName, secretArn: ARN });
    },
  );

  it('ignores and names an unknown service event', () => {
    // Prepare
    const event = serviceEvent('SomethingNew');

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('ignore');
    expect(result.reason).toContain('SomethingNew');
  });

  it('takes the ARN from requestID when no other field has it', () => {
    // Prepare
    const event = serviceEvent('RotationSucceeded', { additionalEventData: null, requestID: REQUEST_ID });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', secretArn: ARN, secretName: NAME });
  });

  it('takes the ARN from resources[0] before requestID', () => {
    // Prepare
    const other = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-QwErTy';
    const event = serviceEvent('RotationSucceeded', { additionalEventData: {}, requestID: REQUEST_ID });
    event['resources'] = [other];

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', secretArn: other, secretName: 'other' });
  });

  it('takes the ARN from responseElements.aRN', () => {
    // Prepare
    const event = serviceEvent('RotationSucceeded', { additionalEventData: null, responseElements: { aRN: ARN } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', secretArn: ARN });
  });

  it('rejects when the event names no secret at all', () => {
    // Prepare
    const event = serviceEvent('RotationSucceeded', { additionalEventData: null, requestID: 'not-a-rotation-id' });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'reject', eventId: 'evt-0001' });
    expect(result.reason).toContain('no secret ARN');
  });

  it('rejects when SecretId is not a Secrets Manager ARN', () => {
    // Prepare
    const event = serviceEvent('RotationSucceeded', { additionalEventData: { SecretId: 'arn:aws:s3:::bucket' } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('reject');
    expect(result.reason).toContain('detail.additionalEventData.SecretId');
  });

  it('rejects and names the field when eventName is missing', () => {
    // Prepare
    const event = serviceEvent('RotationSucceeded');
    delete (event['detail'] as Record<string, unknown>)['eventName'];

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'reject', reason: 'detail.eventName must be a string, got missing' });
  });
});
