import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
  type Message,
  type ReceiveMessageCommandOutput,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DeadLetterQueue } from '../../../src/relay/worker/dead-letter.js';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { SqsIntake, type Arrival, type IntakeOptions } from '../../../src/relay/worker/sqs-intake.js';
import { captureLogger } from '../../support/log-capture.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import { waitUntil } from '../../support/wait-until.js';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/rotation-relay';
const DLQ_ARN = 'arn:aws:sqs:eu-west-1:123456789012:rotation-relay-dlq';
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/rotation-relay-dlq';
const POLICY = JSON.stringify({ deadLetterTargetArn: DLQ_ARN, maxReceiveCount: 5 });
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf';

const sqsMock = mockClient(SQSClient);

const published: MessageOutcome = { kind: 'published', ack: true, secretArn: ARN, versionId: 'v2', receivers: 1 };
const ignored: MessageOutcome = { kind: 'ignored', ack: true, reason: 'not a rotation' };
const rejected: MessageOutcome = { kind: 'rejected', ack: false, code: 'EVENT_REJECTED', reason: 'body is not JSON' };

function message(id: string, receiveCount = 1): Message {
  return { MessageId: id, ReceiptHandle: `rh-${id}`, Body: `{"id":"${id}"}`, Attributes: { ApproximateReceiveCount: String(receiveCount) } };
}

/**
 * An empty long poll, as SQS gives one: it ends after `ms`, or at once with an AbortError when
 * the consumer aborts it (the signal sqs-consumer passes to `send`, as the real SDK honours it).
 */
function longPoll(ms = 20_000): Promise<ReceiveMessageCommandOutput> {
  const signal = ((sqsMock.send.lastCall.args as unknown[])[1] as { abortSignal?: AbortSignal } | undefined)?.abortSignal;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve({ $metadata: {} }), ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
      },
      { once: true },
    );
  });
}

/** One receive returns `messages`, every later one is an empty long poll. */
function queueHolds(...messages: Message[]): void {
  sqsMock.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages }).callsFake(() => longPoll());
}

function receiveCalls(): Array<{ signal: AbortSignal | undefined }> {
  return sqsMock.send
    .getCalls()
    .filter((call) => call.args[0] instanceof ReceiveMessageCommand)
    .map((call) => ({ signal: ((call.args as unknown[])[1] as { abortSignal?: AbortSignal } | undefined)?.abortSignal }));
}

function deletedIds(): string[] {
  return sqsMock.commandCalls(DeleteMessageBatchCommand).flatMap((call) => (call.args[0].input.Entries ?? []).map((entry) => entry.ReceiptHandle ?? ''));
}

interface Recorded {
  handled: Array<{ id: string; arrival: Arrival }>;
  retried: string[];
  deadLettered: Array<{ id: string; code: string }>;
}

async function setup(handle: (message: Message) => Promise<MessageOutcome>, overrides: Partial<IntakeOptions> = {}) {
  const log = captureLogger({ component: 'sqs-intake-test' });
  const metrics = new MetricsRecorderDouble();
  const sqs = new SQSClient({ region: 'eu-west-1' });
  const deadLetters = new DeadLetterQueue({ sqs, logger: log.logger, metrics });
  await deadLetters.resolve(POLICY);
  const recorded: Recorded = { handled: [], retried: [], deadLettered: [] };
  let receipts = 0;
  const intake = new SqsIntake(
    { queueUrl: QUEUE_URL, consumers: 1, batchSize: 10, waitTimeSeconds: 20, visibilityTimeoutSeconds: 30, shutdownTimeoutMs: 0, useQueueUrlAsEndpoint: false, ...overrides },
    {
      sqs,
      logger: log.logger,
      metrics,
      deadLetters,
      receive: () => (receipts += 1),
      handle: async (msg, arrival) => {
        recorded.handled.push({ id: msg.MessageId ?? '', arrival });
        return handle(msg);
      },
      retried: (_error, msg) => recorded.retried.push(msg.MessageId ?? ''),
      deadLettered: (code, msg) => recorded.deadLettered.push({ id: msg.MessageId ?? '', code }),
      now: () => 1_700_000_000_000,
    },
  );
  return { intake, log, metrics, recorded };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

afterEach(() => {
  sqsMock.reset();
});

describe('SqsIntake batches and acks', () => {
  it('deletes the handled and the dead-lettered messages with one DeleteMessageBatch, and keeps the rest', async () => {
    // Prepare
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: DLQ_URL });
    // The DLQ takes m-rejected but refuses m-kept (say, a body at the size limit).
    sqsMock.on(SendMessageCommand).callsFake((input: { MessageBody?: string }) => {
      if (input.MessageBody?.includes('m-kept')) throw new SQSServiceException({ name: 'InvalidParameterValue', $fault: 'client', $metadata: {}, message: 'too long' });
      return { MessageId: 'dlq-1' };
    });
    sqsMock.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
    queueHolds(message('m-published'), message('m-ignored'), message('m-failed', 3), message('m-rejected'), message('m-kept'));
    const outcomes: Record<string, () => Promise<MessageOutcome>> = {
      'm-published': async () => published,
      'm-ignored': async () => ignored,
      'm-failed': async () => {
        throw new Error('redis unreachable');
      },
      'm-rejected': async () => rejected,
      'm-kept': async () => rejected,
    };
    const { intake, metrics, recorded, log } = await setup((msg) => (outcomes[msg.MessageId ?? ''] ?? (async () => ignored))());

    // Act
    intake.start();
    await waitUntil(() => sqsMock.commandCalls(DeleteMessageBatchCommand).length === 1, { message: 'the batch is deleted' });
    await intake.stop();

    // Assess
    expect(deletedIds().sort()).toEqual(['rh-m-ignored', 'rh-m-published', 'rh-m-rejected']);
    expect(recorded.handled.map((h) => h.id)).toEqual(['m-published', 'm-ignored', 'm-failed', 'm-rejected', 'm-kept']);
    // One receive, one receipt and one receive time for all its messages.
    expect(new Set(recorded.handled.map((h) => JSON.stringify(h.arrival)))).toEqual(new Set([JSON.stringify({ receipt: 1, receivedAt: 1_700_000_000_000 })]));
    expect(recorded.retried).toEqual(['m-failed']);
    expect(recorded.deadLettered).toEqual([{ id: 'm-rejected', code: 'EVENT_REJECTED' }]);
    expect(metrics.total('PublishErrors')).toBe(1);
    expect(metrics.total('EventsDeadLettered')).toBe(1);
    const warning = log.records().find((r) => r['msg'] === 'message failed; it stays on the queue and will be retried');
    expect(warning).toMatchObject({ messageId: 'm-failed', err: { name: 'Error', message: 'redis unreachable' } });
  });

  it('gives only the failed messages a backoff by their own receive count, capped at the visibility timeout', async () => {
    // Prepare
    sqsMock.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
    queueHolds(message('m-ok'), message('m-first', 1), message('m-third', 3), message('m-ninth', 9));
    const { intake } = await setup(async (msg) => {
      if (msg.MessageId === 'm-ok') return published;
      throw new Error('secrets manager unreachable');
    });

    // Act
    intake.start();
    await waitUntil(() => sqsMock.commandCalls(DeleteMessageBatchCommand).length === 1, { message: 'the batch is deleted' });
    await intake.stop();

    // Assess
    const calls = sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      QueueUrl: QUEUE_URL,
      Entries: [
        { Id: '0', ReceiptHandle: 'rh-m-first', VisibilityTimeout: 2 },
        { Id: '1', ReceiptHandle: 'rh-m-third', VisibilityTimeout: 8 },
        { Id: '2', ReceiptHandle: 'rh-m-ninth', VisibilityTimeout: 30 },
      ],
    });
    expect(deletedIds()).toEqual(['rh-m-ok']);
  });

  it('still deletes the handled messages when the backoff cannot be set, and says so without failing', async () => {
    // Prepare
    sqsMock.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    sqsMock.on(ChangeMessageVisibilityBatchCommand).rejects(new SQSServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: {}, message: 'denied' }));
    queueHolds(message('m-ok'), message('m-failed'));
    const { intake, log } = await setup(async (msg) => {
      if (msg.MessageId === 'm-ok') return published;
      throw new Error('redis unreachable');
    });

    // Act
    intake.start();
    await waitUntil(() => sqsMock.commandCalls(DeleteMessageBatchCommand).length === 1, { message: 'the batch is deleted' });
    await intake.stop();

    // Assess
    expect(deletedIds()).toEqual(['rh-m-ok']);
    const warning = log.records().find((r) => r['msg'] === 'could not shorten the visibility of failed messages; they return after the visibility timeout');
    expect(warning).toMatchObject({ err: { name: 'AccessDenied' } });
  });

  it('counts the entries SQS refused to shorten', async () => {
    // Prepare
    sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'ReceiptHandleIsInvalid', SenderFault: true }] });
    queueHolds(message('m-failed'));
    const { intake, log } = await setup(async () => {
      throw new Error('redis unreachable');
    });

    // Act
    intake.start();
    await waitUntil(() => log.records().some((r) => r['msg'] === 'could not shorten the visibility of failed messages; they return after the visibility timeout'), {
      message: 'the refused backoff is logged',
    });
    await intake.stop();

    // Assess
    expect(log.records().find((r) => r['msg'] === 'could not shorten the visibility of failed messages; they return after the visibility timeout')).toMatchObject({ failed: 1 });
    expect(sqsMock.commandCalls(DeleteMessageBatchCommand)).toHaveLength(0);
  });

  it('leaves a rejected message on the queue, without a backoff, when no DLQ is known', async () => {
    // Prepare: GetQueueUrl is not answered, so the DLQ stays unresolved.
    sqsMock.on(GetQueueUrlCommand).rejects(new SQSServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: {}, message: 'denied' }));
    queueHolds(message('m-rejected'), message('m-ok'));
    sqsMock.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const { intake, recorded } = await setup(async (msg) => (msg.MessageId === 'm-ok' ? published : rejected));

    // Act
    intake.start();
    await waitUntil(() => sqsMock.commandCalls(DeleteMessageBatchCommand).length === 1, { message: 'the batch is deleted' });
    await intake.stop();

    // Assess
    expect(deletedIds()).toEqual(['rh-m-ok']);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand)).toHaveLength(0);
    expect(recorded.deadLettered).toEqual([]);
    expect(recorded.retried).toEqual([]);
  });

  it('brings the whole batch back after a backoff, and logs an sqs error, when its delete fails', async () => {
    // Prepare
    sqsMock.on(DeleteMessageBatchCommand).rejects(new SQSServiceException({ name: 'ServiceUnavailable', $fault: 'server', $metadata: {}, message: 'try later' }));
    sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
    queueHolds(message('m-one', 4), message('m-two', 1));
    const { intake, log } = await setup(async () => published);

    // Act
    intake.start();
    await waitUntil(() => sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand).length === 1, { message: 'the batch gets its backoff' });
    await intake.stop();

    // Assess: sqs-consumer's own change, one timeout for the batch, from its first message's receive count.
    expect(sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand)[0]?.args[0].input.Entries).toEqual([
      { Id: 'm-one', ReceiptHandle: 'rh-m-one', VisibilityTimeout: 16 },
      { Id: 'm-two', ReceiptHandle: 'rh-m-two', VisibilityTimeout: 16 },
    ]);
    expect(log.records().filter((r) => r['msg'] === 'sqs error')).toHaveLength(1);
  });
});

describe('SqsIntake stop and drain', () => {
  it('aborts an idle long poll at stop, without calling that an error', async () => {
    // Prepare: a shutdown timeout far longer than the test, so only an abort ends the poll in time.
    sqsMock.on(ReceiveMessageCommand).callsFake(() => longPoll());
    const { intake, log } = await setup(async () => published, { shutdownTimeoutMs: 30_000 });
    intake.start();
    await waitUntil(() => receiveCalls().length === 1, { message: 'the consumer is polling' });
    expect(intake.running).toBe(1);

    // Act
    await intake.stop();

    // Assess
    expect(receiveCalls()[0]?.signal?.aborted).toBe(true);
    expect(intake.running).toBe(0);
    expect(log.records().filter((r) => r['msg'] === 'sqs error')).toEqual([]);
  });

  it('lets an in-flight batch finish and be deleted before stop resolves, without aborting it', async () => {
    // Prepare
    sqsMock.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    queueHolds(message('m-slow'), message('m-quick'));
    const release = deferred();
    const { intake } = await setup(
      async (msg) => {
        if (msg.MessageId === 'm-slow') await release.promise;
        return published;
      },
      { shutdownTimeoutMs: 30_000 },
    );
    intake.start();
    await waitUntil(() => intake.inFlight === 2, { message: 'the batch is in flight' });

    // Act
    let stopped = false;
    const stopping = intake.stop().then(() => (stopped = true));
    await waitUntil(() => intake.running === 0, { message: 'the consumer stops receiving' });
    const deletesBeforeRelease = sqsMock.commandCalls(DeleteMessageBatchCommand).length;
    const stoppedBeforeRelease = stopped;
    release.resolve();
    await stopping;

    // Assess
    expect(deletesBeforeRelease).toBe(0);
    expect(stoppedBeforeRelease).toBe(false);
    expect(receiveCalls()[0]?.signal?.aborted).toBe(false);
    expect(deletedIds().sort()).toEqual(['rh-m-quick', 'rh-m-slow']);
    expect(intake.inFlight).toBe(0);
  });

  it('counts in-flight messages per batch and only aborts the consumers with none, of several', async () => {
    // Prepare: the first receive (whichever consumer makes it) gets the batch, the others poll idle.
    sqsMock.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    queueHolds(message('m-held'));
    const release = deferred();
    const { intake } = await setup(
      async () => {
        await release.promise;
        return published;
      },
      { consumers: 3, shutdownTimeoutMs: 30_000 },
    );
    intake.start();
    await waitUntil(() => intake.inFlight === 1 && receiveCalls().length === 3, { message: 'one batch in flight, two consumers polling' });

    // Act
    const stopping = intake.stop();
    await waitUntil(() => intake.running === 0, { message: 'every consumer stops receiving' });
    release.resolve();
    await stopping;

    // Assess: one signal per consumer; only the busy one (the first receive) was not aborted.
    const signals = receiveCalls().map((call) => call.signal);
    expect(signals[0]?.aborted).toBe(false);
    expect(signals.slice(1).map((signal) => signal?.aborted)).toEqual([true, true]);
    expect(deletedIds()).toEqual(['rh-m-held']);
  });

  it('logs a receive error while running, as one sqs error with the consumer index', async () => {
    // Prepare
    sqsMock
      .on(ReceiveMessageCommand)
      .rejectsOnce(new SQSServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: {}, message: 'not authorized to perform sqs:ReceiveMessage' }))
      .callsFake(() => longPoll());
    const { intake, log } = await setup(async () => published);

    // Act
    intake.start();
    await waitUntil(() => log.records().some((r) => r['msg'] === 'sqs error'), { message: 'the receive error is logged' });
    await intake.stop();

    // Assess
    expect(log.records().find((r) => r['msg'] === 'sqs error')).toMatchObject({ consumer: 0, err: { name: 'SQSError' } });
  });
});
