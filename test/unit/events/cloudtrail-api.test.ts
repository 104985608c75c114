import { describe, expect, it } from 'vitest';
import { parseEventBody } from '../../../src/relay/events/index.js';
import { ARN, NAME, VERSION, apiCall, body } from '../../support/event-fixtures.js';

const HIDDEN = 'HIDDEN_DUE_TO_SECURITY_REASONS';

describe('parseEventBody: cloudtrail-api PutSecretValue', () => {
  it('invalidates with the response version when versionStages is absent', () => {
    // Prepare
    const event = apiCall('PutSecretValue', {
      requestParameters: { secretId: NAME, clientRequestToken: VERSION },
      responseElements: { arn: ARN, versionId: VERSION },
    });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({
      action: 'invalidate',
      family: 'cloudtrail-api',
      eventName: 'PutSecretValue',
      secretArn: ARN,
      secretName: NAME,
      versionId: VERSION,
    });
  });

  it('ignores the put when versionStages is [AWSPENDING] (rotation createSecret step)', () => {
    // Prepare
    const event = apiCall('PutSecretValue', { requestParameters: { secretId: ARN, versionStages: ['AWSPENDING'] } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'ignore', secretArn: ARN });
    expect(result.reason).toContain('AWSPENDING');
  });

  it('invalidates when versionStages contains AWSCURRENT', () => {
    // Prepare
    const event = apiCall('PutSecretValue', { requestParameters: { secretId: ARN, versionStages: ['AWSCURRENT'] } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', secretArn: ARN });
  });

  it('rejects when versionStages is not an array of strings', () => {
    // Prepare
    const event = apiCall('PutSecretValue', { requestParameters: { secretId: ARN, versionStages: 'AWSCURRENT' } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('reject');
    expect(result.reason).toContain('versionStages');
  });

  it('takes the ARN from the pre-2024 aRN spelling', () => {
    // Prepare
    const event = apiCall('PutSecretValue', { responseElements: { aRN: ARN } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', secretArn: ARN, secretName: NAME });
  });

  it('uses the bare-name secretId when the response has no ARN', () => {
    // Prepare
    const event = apiCall('PutSecretValue', { requestParameters: { secretId: NAME }, responseElements: null });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', secretArn: NAME, secretName: NAME });
  });

  it('uses a partial-ARN secretId as is when the response has no ARN', () => {
    // Prepare
    const partial = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db';
    const event = apiCall('PutSecretValue', { requestParameters: { secretId: partial }, responseElements: null });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', secretArn: partial, secretName: NAME });
  });

  it('prefers the response ARN over a bare-name secretId', () => {
    // Prepare
    const event = apiCall('PutSecretValue', { requestParameters: { secretId: NAME }, responseElements: { arn: ARN } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', secretArn: ARN });
  });

  it('rejects when responseElements.arn is an S3 ARN', () => {
    // Prepare
    const event = apiCall('PutSecretValue', { responseElements: { arn: 'arn:aws:s3:::bucket' } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('reject');
    expect(result.reason).toContain('detail.responseElements.arn');
  });

  it('rejects when neither the response nor the request names the secret', () => {
    // Prepare
    const event = apiCall('PutSecretValue', { requestParameters: {}, responseElements: null });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('reject');
  });

  it('ignores a call that failed with an errorCode', () => {
    // Prepare
    const event = apiCall('PutSecretValue', {
      errorCode: 'ResourceNotFoundException',
      errorMessage: "Secrets Manager can't find the specified secret.",
      responseElements: null,
    });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({
      action: 'ignore',
      reason: 'PutSecretValue call failed with ResourceNotFoundException, nothing changed',
    });
  });

  it('ignores a failed call even when its secretId is garbage', () => {
    // Prepare
    const event = apiCall('PutSecretValue', {
      errorCode: 'ValidationException',
      requestParameters: { secretId: 'arn:aws:s3:::not-a-secret' },
      responseElements: null,
    });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('ignore');
    expect(result).not.toHaveProperty('secretArn');
  });
});

describe('parseEventBody: cloudtrail-api UpdateSecretVersionStage', () => {
  it('invalidates with moveToVersionId when AWSCURRENT moved', () => {
    // Prepare
    const event = apiCall('UpdateSecretVersionStage', {
      requestParameters: { secretId: ARN, versionStage: 'AWSCURRENT', moveToVersionId: VERSION, removeFromVersionId: 'old-version' },
    });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', eventName: 'UpdateSecretVersionStage', secretArn: ARN, versionId: VERSION });
  });

  it('ignores a move of AWSPENDING', () => {
    // Prepare
    const event = apiCall('UpdateSecretVersionStage', {
      requestParameters: { secretId: ARN, versionStage: 'AWSPENDING', moveToVersionId: VERSION },
    });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('ignore');
    expect(result.reason).toContain('AWSPENDING');
  });

  it('ignores AWSCURRENT being only removed from a version', () => {
    // Prepare
    const event = apiCall('UpdateSecretVersionStage', {
      requestParameters: { secretId: ARN, versionStage: 'AWSCURRENT', removeFromVersionId: VERSION },
    });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('ignore');
  });

  it('rejects when versionStage is missing', () => {
    // Prepare
    const event = apiCall('UpdateSecretVersionStage', { requestParameters: { secretId: ARN, moveToVersionId: VERSION } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('reject');
    expect(result.reason).toContain('versionStage');
  });
});

describe('parseEventBody: cloudtrail-api UpdateSecret', () => {
  it('invalidates when the call carried a hidden secretString', () => {
    // Prepare
    const event = apiCall('UpdateSecret', { requestParameters: { secretId: NAME, secretString: HIDDEN } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', secretArn: ARN });
  });

  it('invalidates with the version when the response has a versionId', () => {
    // Prepare
    const event = apiCall('UpdateSecret', { responseElements: { arn: ARN, versionId: VERSION } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', versionId: VERSION });
  });

  it('ignores a description-only update', () => {
    // Prepare
    const event = apiCall('UpdateSecret', { requestParameters: { secretId: NAME, description: 'new text' } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'ignore', secretArn: ARN });
  });
});

describe('parseEventBody: cloudtrail-api other calls', () => {
  it('invalidates when the secret was restored', () => {
    // Prepare
    const event = apiCall('RestoreSecret');

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'invalidate', eventName: 'RestoreSecret', secretArn: ARN });
  });

  it('alerts when the secret was deleted', () => {
    // Prepare
    const event = apiCall('DeleteSecret', { responseElements: { arn: ARN, name: NAME, deletionDate: 'Feb 1, 2025' } });

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'alert', eventName: 'DeleteSecret', secretArn: ARN, secretName: NAME });
  });

  it.each(['RotateSecret', 'CancelRotateSecret', 'TagResource', 'CreateSecret'])('ignores %s', (eventName) => {
    // Prepare
    const event = apiCall(eventName);

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result).toMatchObject({ action: 'ignore', eventName });
    expect(result.reason).toContain(eventName);
  });

  it('ignores an unknown call whose eventName collides with an Object.prototype key', () => {
    // Prepare
    const event = apiCall('constructor');

    // Act
    const result = parseEventBody(body(event));

    // Assess
    expect(result.action).toBe('ignore');
  });
});
