import { InvalidParameterException } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { createInvalidation, type PublishOutcome } from '../../../src/protocol/index.js';
import {
  classifySecretsManagerError,
  SecretAccessDeniedError,
  type CurrentVersion,
} from '../../../src/secrets/index.js';
import { createMessageHandler, type HandlerDeps, type MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { ARN, apiCall, body, labelUpdated } from '../../support/event-fixtures.js';
import { captureLogger } from '../../support/log-capture.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';

const DESCRIBED: CurrentVersion = { arn: ARN, name: 'prod/db', versionId: 'described-version-0001' };

/** A handler whose publish builds the invalidation exactly as relay-worker.ts does. */
function setup(describe: (secretId: string) => Promise<CurrentVersion> = async () => DESCRIBED) {
  const metrics = new MetricsRecorderDouble();
  const log = captureLogger({ component: 'worker-test' });
  const describeCalls: string[] = [];
  const published: unknown[] = [];
  const publish: HandlerDeps['publish'] = async (fields): Promise<PublishOutcome> => {
    published.push(createInvalidation(fields));
    return { outcome: 'published', receivers: 1 };
  };
  const handle = createMessageHandler({
    describe: (secretId) => {
      describeCalls.push(secretId);
      return describe(secretId);
    },
    lastPublished: async () => undefined,
    publish,
    metrics,
    logger: log.logger,
    confirmWindowMs: 0,
    confirmIntervalMs: 0,
  });
  const run = (text: string): Promise<MessageOutcome> => handle({ body: text, messageId: 'msg-1', receivedAt: Date.now() });
  return { run, metrics, log, describeCalls, published };
}

describe('a body that can never be published goes to the DLQ on its first receive', () => {
  const withoutTime = (event: Record<string, unknown>) => {
    delete event['time'];
    return event;
  };

  it.each([
    ['a 70,000-character event id', { ...labelUpdated(), id: 'x'.repeat(70_000) }],
    ['a newline in the event id', { ...labelUpdated(), id: 'evt-1\nevt-2' }],
    ['an event time that is not a date', { ...labelUpdated(), time: '02/01/2025 03:04' }],
    ['a detail.eventTime that is not a date and no envelope time', withoutTime(apiCall('PutSecretValue', { eventTime: 'soon' }))],
    ['an oversized version id', apiCall('UpdateSecretVersionStage', { requestParameters: { secretId: ARN, versionStage: 'AWSCURRENT', moveToVersionId: 'v'.repeat(65) } })],
  ])('rejects %s without a DescribeSecret call, a publish or a retry', async (_label, event) => {
    // Prepare
    const { run, metrics, describeCalls, published } = setup();

    // Act
    const outcome = await run(body(event));

    // Assess: `rejected` is not acknowledged and not thrown, so the queue's redrive policy moves it.
    expect(outcome).toMatchObject({ kind: 'rejected', ack: false });
    expect(describeCalls).toEqual([]);
    expect(published).toEqual([]);
    expect(metrics.total('EventsInvalid')).toBe(1);
  });

  it('rejects instead of retrying when what DescribeSecret answered cannot make an invalidation a subscriber accepts', async () => {
    // Prepare: a version id longer than any AWS issues, so createInvalidation refuses it.
    const { run, metrics, log, published } = setup(async () => ({ ...DESCRIBED, versionId: 'v'.repeat(65) }));

    // Act
    const outcome = await run(body(labelUpdated()));

    // Assess
    expect(outcome).toEqual({
      kind: 'rejected',
      ack: false,
      code: 'PROTOCOL_INVALID_INVALIDATION',
      reason: 'invalidation is invalid: versionId is 65 characters, more than the 64 allowed',
    });
    expect(published).toEqual([]);
    expect(metrics.total('EventsInvalid')).toBe(1);
    expect(log.records()).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: 'message can never be published; left for the DLQ', err: { code: 'PROTOCOL_INVALID_INVALIDATION' } }),
    );
  });

  it('rejects when Secrets Manager refuses the DescribeSecret request as invalid, which a retry would send again', async () => {
    // Prepare
    const refused = new InvalidParameterException({ $metadata: { httpStatusCode: 400 }, message: 'You provided an invalid value for the parameter.' });
    const { run, describeCalls } = setup(async (secretId) => {
      throw classifySecretsManagerError(refused, secretId, 'DescribeSecret');
    });

    // Act
    const outcome = await run(body(labelUpdated()));

    // Assess
    expect(outcome).toMatchObject({
      kind: 'rejected',
      ack: false,
      code: 'SECRET_REQUEST_INVALID',
      reason: expect.stringMatching(/refused DescribeSecret for secret .* as invalid \(InvalidParameterException\)/),
    });
    expect(describeCalls).toHaveLength(1);
  });

  it('still retries when access is denied: once the policy is fixed the message succeeds', async () => {
    // Prepare
    const denied = new SecretAccessDeniedError(ARN, 'DescribeSecret');
    const { run } = setup(async () => {
      throw denied;
    });

    // Act
    const handling = run(body(labelUpdated()));

    // Assess
    await expect(handling).rejects.toBe(denied);
  });
});
