import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Invalidation, PublishOutcome } from '../../../src/protocol/index.js';
import {
  SecretNotFoundError,
  SecretsManagerUnavailableError,
  type CurrentVersion,
} from '../../../src/secrets/index.js';
import { createMessageHandler, type HandlerDeps, type ReceivedMessage } from '../../../src/relay/worker/handle-message.js';
import { ARN, apiCall, body, labelUpdated, readSample, readSampleJson } from '../../support/event-fixtures.js';
import { captureLogger, type CapturedLogger } from '../../support/log-capture.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';

type PublishFields = Parameters<HandlerDeps['publish']>[0];

// What the shared secret-label-updated.json sample says.
const SAMPLE_ARN = 'arn:aws:secretsmanager:us-west-2:012345678901:secret:mySecret-a1b2c3';
const SAMPLE_VERSION = 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111';
const SAMPLE_EVENT_ID = '6a7e8feb-b491-4cf7-a9f1-bf3703467718';
const SAMPLE_EVENT_TIME = '2024-02-06T16:43:48Z';

// What DescribeSecret answers: deliberately different from the event so the test can tell which
// one the handler published.
const DESCRIBED: CurrentVersion = {
  arn: 'arn:aws:secretsmanager:us-west-2:012345678901:secret:mySecret-ZzYyXx',
  name: 'mySecret-from-describe',
  versionId: 'described-version-0001',
};

const RECEIVED_AT = Date.parse('2024-02-06T16:43:50.000Z');

interface Setup {
  handle: (message: ReceivedMessage) => ReturnType<ReturnType<typeof createMessageHandler>>;
  metrics: MetricsRecorderDouble;
  log: CapturedLogger;
  describeCalls: string[];
  lastPublishedCalls: string[];
  publishCalls: PublishFields[];
}

interface SetupOptions {
  describe?: (secretId: string) => Promise<CurrentVersion>;
  lastPublished?: (secretArn: string) => Promise<Invalidation | undefined>;
  publish?: (fields: PublishFields) => Promise<PublishOutcome>;
  now?: () => number;
  confirmWindowMs?: number;
  confirmIntervalMs?: number;
}

function setup(options: SetupOptions = {}): Setup {
  const metrics = new MetricsRecorderDouble();
  const log = captureLogger({ component: 'worker-test' });
  const describeCalls: string[] = [];
  const lastPublishedCalls: string[] = [];
  const publishCalls: PublishFields[] = [];
  const handle = createMessageHandler({
    describe: (secretId) => {
      describeCalls.push(secretId);
      return options.describe ? options.describe(secretId) : Promise.resolve(DESCRIBED);
    },
    lastPublished: (secretArn) => {
      lastPublishedCalls.push(secretArn);
      return options.lastPublished ? options.lastPublished(secretArn) : Promise.resolve(undefined);
    },
    publish: (fields) => {
      publishCalls.push(fields);
      return options.publish ? options.publish(fields) : Promise.resolve({ outcome: 'published', receivers: 3 });
    },
    metrics,
    logger: log.logger,
    confirmWindowMs: options.confirmWindowMs ?? 1_000,
    confirmIntervalMs: options.confirmIntervalMs ?? 100,
    now: options.now ?? (() => RECEIVED_AT + 42),
  });
  return { handle, metrics, log, describeCalls, lastPublishedCalls, publishCalls };
}

function message(messageBody: string, messageId = 'msg-0001'): ReceivedMessage {
  return { body: messageBody, messageId, receivedAt: RECEIVED_AT };
}

function publishedInvalidation(versionId: string): Invalidation {
  return {
    v: 1,
    id: '00000000-0000-4000-8000-000000000001',
    secretArn: DESCRIBED.arn,
    secretName: DESCRIBED.name,
    versionId,
    reason: 'earlier change',
    eventId: 'evt-earlier',
    eventTime: '2024-02-06T16:00:00Z',
    publishedAt: '2024-02-06T16:00:01Z',
  };
}

describe('createMessageHandler', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('rejected bodies', () => {
    it('rejects a body that is not JSON without acknowledging it and never logs the body', async () => {
      // Prepare
      const { handle, metrics, log, describeCalls, publishCalls } = setup();
      const hostile = 'not json at all: password=Sup3rS3cretMarker-7f3a';

      // Act
      const outcome = await handle(message(hostile, 'msg-reject-1'));

      // Assess
      expect(outcome).toEqual({ kind: 'rejected', ack: false, code: 'EVENT_REJECTED', reason: 'body is not JSON' });
      expect(metrics.total('EventsReceived')).toBe(1);
      expect(metrics.total('EventsInvalid')).toBe(1);
      expect(describeCalls).toEqual([]);
      expect(publishCalls).toEqual([]);
      expect(log.records()).toEqual([
        expect.objectContaining({ level: 'warn', messageId: 'msg-reject-1', reason: 'body is not JSON', msg: 'message rejected; left for the DLQ' }),
      ]);
      expect(log.lines().join('\n')).not.toContain('Sup3rS3cretMarker-7f3a');
    });

    it('rejects an event from another source, keeping its id but not its content in the log', async () => {
      // Prepare
      const foreign = {
        ...readSampleJson('secret-label-updated.json'),
        source: 'aws.s3',
        detail: { SecretString: 'HiddenValueMarker-91bd', note: 'AnotherMarker-c0ffee' },
      };
      const { handle, metrics, log, publishCalls } = setup();

      // Act
      const outcome = await handle(message(body(foreign)));

      // Assess
      expect(outcome).toMatchObject({ kind: 'rejected', ack: false });
      expect(metrics.total('EventsInvalid')).toBe(1);
      expect(publishCalls).toEqual([]);
      const [record] = log.records();
      expect(record).toMatchObject({ level: 'warn', eventId: SAMPLE_EVENT_ID });
      expect(log.lines().join('\n')).not.toContain('HiddenValueMarker-91bd');
      expect(log.lines().join('\n')).not.toContain('AnotherMarker-c0ffee');
    });
  });

  describe('ignored events', () => {
    it('acknowledges a label update for AWSPENDING and counts it as ignored', async () => {
      // Prepare
      const { handle, metrics, describeCalls, publishCalls } = setup();

      // Act
      const outcome = await handle(message(body(labelUpdated({ label: 'AWSPENDING' }))));

      // Assess
      expect(outcome).toMatchObject({ kind: 'ignored', ack: true });
      expect(metrics.total('EventsIgnored')).toBe(1);
      expect(metrics.total('EventsInvalid')).toBe(0);
      expect(describeCalls).toEqual([]);
      expect(publishCalls).toEqual([]);
    });

    it('acknowledges a PutSecretValue with versionStages [AWSPENDING] without publishing', async () => {
      // Prepare
      const { handle, metrics, describeCalls, publishCalls } = setup();
      const event = apiCall('PutSecretValue', { requestParameters: { secretId: ARN, versionStages: ['AWSPENDING'] } });

      // Act
      const outcome = await handle(message(body(event)));

      // Assess
      expect(outcome).toMatchObject({ kind: 'ignored', ack: true, reason: expect.stringContaining('AWSPENDING') });
      expect(metrics.total('EventsIgnored')).toBe(1);
      expect(describeCalls).toEqual([]);
      expect(publishCalls).toEqual([]);
    });
  });

  describe('alerts', () => {
    it('acknowledges the RotationFailed sample, counts a rotation failure and logs a warning', async () => {
      // Prepare
      const { handle, metrics, log, publishCalls } = setup();

      // Act
      const outcome = await handle(message(readSample('rotation-failed.json')));

      // Assess
      expect(outcome).toMatchObject({ kind: 'alerted', ack: true });
      expect(metrics.total('RotationFailures')).toBe(1);
      expect(metrics.total('EventsAlerted')).toBe(0);
      expect(publishCalls).toEqual([]);
      expect(log.records()).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          msg: 'rotation failed',
          eventName: 'RotationFailed',
          secretArn: 'arn:aws:secretsmanager:us-east-2:123456789012:secret:MyDatabaseSecret-a1b2c3',
        }),
      );
    });

    it('acknowledges a DeleteSecret call and counts it as an alert, not a rotation failure', async () => {
      // Prepare
      const { handle, metrics, log, publishCalls } = setup();

      // Act
      const outcome = await handle(message(body(apiCall('DeleteSecret'))));

      // Assess
      expect(outcome).toMatchObject({ kind: 'alerted', ack: true });
      expect(metrics.total('EventsAlerted')).toBe(1);
      expect(metrics.total('RotationFailures')).toBe(0);
      expect(publishCalls).toEqual([]);
      expect(log.records()).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'secret alert', eventName: 'DeleteSecret', secretArn: ARN }));
    });
  });

  describe('invalidations', () => {
    it('publishes the version DescribeSecret reports, with the reason, id and time from the event', async () => {
      // Prepare
      const { handle, describeCalls, lastPublishedCalls, publishCalls } = setup();

      // Act
      const outcome = await handle(message(readSample('secret-label-updated.json')));

      // Assess
      expect(outcome).toEqual({ kind: 'published', ack: true, secretArn: DESCRIBED.arn, versionId: DESCRIBED.versionId, receivers: 3 });
      expect(describeCalls).toEqual([SAMPLE_ARN]);
      // The versions hash is keyed by the ARN DescribeSecret confirms, not the event's id.
      expect(lastPublishedCalls).toEqual([DESCRIBED.arn]);
      expect(publishCalls).toEqual([
        {
          secretArn: DESCRIBED.arn,
          secretName: DESCRIBED.name,
          versionId: DESCRIBED.versionId,
          reason: 'Secret Label Updated',
          eventId: SAMPLE_EVENT_ID,
          eventTime: SAMPLE_EVENT_TIME,
        },
      ]);
      expect(publishCalls[0]?.versionId).not.toBe(SAMPLE_VERSION);
    });

    it('uses the CloudTrail event name as the reason for a RotationSucceeded event', async () => {
      // Prepare
      const { handle, publishCalls } = setup();

      // Act
      const outcome = await handle(message(readSample('rotation-succeeded.json')));

      // Assess
      expect(outcome.kind).toBe('published');
      expect(publishCalls).toEqual([
        expect.objectContaining({ reason: 'RotationSucceeded', eventId: 'dd5fd657-7361-f5d2-0c0f-0fe27390611b', eventTime: '2021-08-13T19:17:16Z' }),
      ]);
    });

    it('counts the publish, the subscribers reached and the latency from receipt to publish', async () => {
      // Prepare
      const { handle, metrics } = setup({
        publish: async () => ({ outcome: 'published', receivers: 7 }),
        now: () => RECEIVED_AT + 125,
      });

      // Act
      await handle(message(readSample('secret-label-updated.json')));

      // Assess
      expect(metrics.total('EventsReceived')).toBe(1);
      expect(metrics.total('InvalidationsPublished')).toBe(1);
      expect(metrics.total('SubscribersReached')).toBe(7);
      expect(metrics.timings('PublishLatencyMs')).toEqual([125]);
      expect(metrics.timings('EventAgeMs')).toEqual([RECEIVED_AT + 125 - Date.parse(SAMPLE_EVENT_TIME)]);
      expect(metrics.total('DuplicateEvents')).toBe(0);
    });

    it('logs the published invalidation at info with receivers and latency', async () => {
      // Prepare
      const { handle, log } = setup();

      // Act
      await handle(message(readSample('secret-label-updated.json')));

      // Assess
      expect(log.records()).toContainEqual(
        expect.objectContaining({
          level: 'info',
          msg: 'invalidation published',
          secretArn: DESCRIBED.arn,
          versionId: DESCRIBED.versionId,
          eventId: SAMPLE_EVENT_ID,
          receivers: 3,
          latencyMs: 42,
        }),
      );
    });

    it.each([
      [{ outcome: 'duplicate-event' } as const, 'duplicate-event'],
      [{ outcome: 'unchanged-version', publishedVersionId: DESCRIBED.versionId } as const, 'unchanged-version'],
    ])('acknowledges and counts a duplicate when the publish reports %o', async (publishOutcome, kind) => {
      // Prepare
      const { handle, metrics } = setup({ publish: async () => publishOutcome });

      // Act
      const outcome = await handle(message(readSample('secret-label-updated.json')));

      // Assess
      expect(outcome).toMatchObject({ kind, ack: true, secretArn: DESCRIBED.arn });
      expect(metrics.total('DuplicateEvents')).toBe(1);
      expect(metrics.total('InvalidationsPublished')).toBe(0);
      expect(metrics.total('SubscribersReached')).toBe(0);
      expect(metrics.timings('PublishLatencyMs')).toEqual([]);
    });

    it('publishes what is current after the confirm window when the event names a version DescribeSecret never shows', async () => {
      // Prepare: the last broadcast version is still current; the event names another one.
      // The handler waits with the default timer-based sleep, so time is faked.
      vi.useFakeTimers({ now: RECEIVED_AT });
      const stale = { ...DESCRIBED, versionId: 'already-broadcast' };
      const { handle, log, describeCalls, publishCalls } = setup({
        describe: async () => stale,
        lastPublished: async () => publishedInvalidation('already-broadcast'),
        publish: async () => ({ outcome: 'unchanged-version', publishedVersionId: 'already-broadcast' }),
        confirmWindowMs: 300,
        confirmIntervalMs: 100,
      });

      // Act
      const handling = handle(message(readSample('secret-label-updated.json')));
      await vi.advanceTimersByTimeAsync(300);
      const outcome = await handling;

      // Assess
      expect(outcome).toEqual({ kind: 'unchanged-version', ack: true, secretArn: stale.arn, versionId: 'already-broadcast' });
      expect(describeCalls).toHaveLength(4);
      expect(publishCalls).toEqual([expect.objectContaining({ versionId: 'already-broadcast' })]);
      expect(log.records()).toContainEqual(
        expect.objectContaining({
          level: 'info',
          msg: 'event names a version that is not current; treating it as stale',
          eventVersionId: SAMPLE_VERSION,
          currentVersionId: 'already-broadcast',
          reads: 4,
        }),
      );
    });

    it('re-reads until DescribeSecret catches up with the event and publishes the new version', async () => {
      // Prepare
      vi.useFakeTimers({ now: RECEIVED_AT });
      const answers = ['already-broadcast', SAMPLE_VERSION];
      const { handle, describeCalls, publishCalls } = setup({
        describe: async () => ({ ...DESCRIBED, versionId: answers[Math.min(describeCalls.length - 1, answers.length - 1)] ?? '' }),
        lastPublished: async () => publishedInvalidation('already-broadcast'),
        confirmWindowMs: 1_000,
        confirmIntervalMs: 100,
      });

      // Act
      const handling = handle(message(readSample('secret-label-updated.json')));
      await vi.advanceTimersByTimeAsync(100);
      const outcome = await handling;

      // Assess
      expect(outcome).toMatchObject({ kind: 'published', versionId: SAMPLE_VERSION });
      expect(describeCalls).toHaveLength(2);
      expect(publishCalls).toEqual([expect.objectContaining({ versionId: SAMPLE_VERSION })]);
    });
    it('looks the last broadcast up by the confirmed ARN when the event names the secret only by name', async () => {
      // Prepare: an UpdateSecretVersionStage call made with a bare name and no responseElements.
      vi.useFakeTimers({ now: RECEIVED_AT });
      const answers = ['already-broadcast', 'moved-to'];
      const { handle, describeCalls, lastPublishedCalls, publishCalls } = setup({
        describe: async () => ({ ...DESCRIBED, versionId: answers[Math.min(describeCalls.length - 1, answers.length - 1)] ?? '' }),
        lastPublished: async (arn) => (arn === DESCRIBED.arn ? publishedInvalidation('already-broadcast') : undefined),
        confirmWindowMs: 1_000,
        confirmIntervalMs: 100,
      });
      const event = apiCall('UpdateSecretVersionStage', {
        requestParameters: { secretId: 'prod/db', versionStage: 'AWSCURRENT', moveToVersionId: 'moved-to' },
        responseElements: null,
      });

      // Act
      const handling = handle(message(body(event)));
      await vi.advanceTimersByTimeAsync(100);
      const outcome = await handling;

      // Assess: the stale first read was recognised (found via the ARN) and re-read.
      expect(describeCalls[0]).toBe('prod/db');
      expect(lastPublishedCalls).toEqual([DESCRIBED.arn]);
      expect(outcome).toMatchObject({ kind: 'published', versionId: 'moved-to' });
      expect(publishCalls).toEqual([expect.objectContaining({ versionId: 'moved-to' })]);
    });
  });

  describe('failures', () => {
    it('acknowledges with an alert when the secret no longer exists', async () => {
      // Prepare
      const { handle, metrics, log, publishCalls } = setup({
        describe: async (secretId) => {
          throw new SecretNotFoundError(secretId);
        },
      });

      // Act
      const outcome = await handle(message(readSample('secret-label-updated.json')));

      // Assess
      expect(outcome).toEqual({ kind: 'alerted', ack: true, reason: `secret ${SAMPLE_ARN} was not found in Secrets Manager: check the secret id (a name or full ARN), the region (AWS_REGION) and the account of the credentials` });
      expect(metrics.total('EventsAlerted')).toBe(1);
      expect(metrics.total('InvalidationsPublished')).toBe(0);
      expect(publishCalls).toEqual([]);
      expect(log.records()).toContainEqual(
        expect.objectContaining({ level: 'warn', secretId: SAMPLE_ARN, eventId: SAMPLE_EVENT_ID, err: { code: 'SECRET_NOT_FOUND' } }),
      );
    });

    it('throws when Secrets Manager is unavailable, so the message is retried', async () => {
      // Prepare
      const failure = new SecretsManagerUnavailableError(SAMPLE_ARN, 'DescribeSecret');
      const { handle, metrics, publishCalls } = setup({
        describe: async () => {
          throw failure;
        },
      });

      // Act
      const handling = handle(message(readSample('secret-label-updated.json')));

      // Assess
      await expect(handling).rejects.toBe(failure);
      expect(publishCalls).toEqual([]);
      expect(metrics.total('EventsAlerted')).toBe(0);
    });

    it('throws when reading the last published version fails', async () => {
      // Prepare
      const failure = new Error('redis connection closed');
      const { handle, describeCalls } = setup({
        lastPublished: async () => {
          throw failure;
        },
      });

      // Act
      const handling = handle(message(readSample('rotation-succeeded.json')));

      // Assess
      await expect(handling).rejects.toBe(failure);
      // One read to learn the full ARN, then the failing lookup; no re-reads, no publish.
      expect(describeCalls).toHaveLength(1);
    });

    it('throws when the publish fails, without counting a publish', async () => {
      // Prepare
      const failure = new Error('NOSCRIPT or connection lost');
      const { handle, metrics } = setup({
        publish: async () => {
          throw failure;
        },
      });

      // Act
      const handling = handle(message(readSample('secret-label-updated.json')));

      // Assess
      await expect(handling).rejects.toBe(failure);
      expect(metrics.total('InvalidationsPublished')).toBe(0);
      expect(metrics.total('DuplicateEvents')).toBe(0);
    });
  });
});
