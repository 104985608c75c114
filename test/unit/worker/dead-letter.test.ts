import { GetQueueUrlCommand, QueueDoesNotExist, SendMessageCommand, SQSClient, SQSServiceException, type Message } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DEAD_LETTER_ATTRIBUTES, DeadLetterQueue, deadLetterTargetArn, DLQ_LOOKUP_RETRY_MS, queueOfArn, REASON_ATTRIBUTE_MAX } from '../../../src/relay/worker/dead-letter.js';
import { captureLogger } from '../../support/log-capture.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';

const DLQ_ARN = 'arn:aws:sqs:eu-west-1:123456789012:rotation-relay-dlq';
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/rotation-relay-dlq';
const POLICY = JSON.stringify({ deadLetterTargetArn: DLQ_ARN, maxReceiveCount: 5 });
const BODY_MARKER = 'BodyMarker-3b9d';

const sqsMock = mockClient(SQSClient);

function message(overrides: Partial<Message> = {}): Message {
  return { MessageId: 'msg-1', ReceiptHandle: 'rh-1', Body: `{"id":"evt\\n","note":"${BODY_MARKER}"}`, Attributes: { ApproximateReceiveCount: '1' }, ...overrides };
}

function setup() {
  let now = 1_000_000;
  const log = captureLogger({ component: 'dead-letter-test' });
  const metrics = new MetricsRecorderDouble();
  const dlq = new DeadLetterQueue({ sqs: new SQSClient({ region: 'eu-west-1' }), logger: log.logger, metrics, now: () => now });
  return { dlq, log, metrics, advance: (ms: number) => (now += ms) };
}

const denied = () => new SQSServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'not authorized to perform sqs:SendMessage' });

afterEach(() => {
  sqsMock.reset();
});

describe('deadLetterTargetArn and queueOfArn', () => {
  it('reads the DLQ ARN of a RedrivePolicy and refuses anything else', () => {
    expect(deadLetterTargetArn(POLICY)).toBe(DLQ_ARN);
    expect(deadLetterTargetArn(undefined)).toBeUndefined();
    expect(deadLetterTargetArn('not json')).toBeUndefined();
    expect(deadLetterTargetArn('{"maxReceiveCount":3}')).toBeUndefined();
    expect(deadLetterTargetArn('{"deadLetterTargetArn":42}')).toBeUndefined();
  });

  it('splits an SQS ARN into name and owner account, FIFO included', () => {
    expect(queueOfArn(DLQ_ARN)).toEqual({ accountId: '123456789012', name: 'rotation-relay-dlq' });
    expect(queueOfArn('arn:aws-us-gov:sqs:us-gov-west-1:123456789012:orders-dlq.fifo')).toEqual({ accountId: '123456789012', name: 'orders-dlq.fifo' });
    expect(queueOfArn('arn:aws:sns:eu-west-1:123456789012:topic')).toBeUndefined();
    expect(queueOfArn('rotation-relay-dlq')).toBeUndefined();
  });
});

describe('DeadLetterQueue', () => {
  it('sends the original body with the code, the reason, the source id and the receive count, and counts it', async () => {
    // Prepare
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: DLQ_URL });
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'dlq-1' });
    const { dlq, metrics } = setup();
    await dlq.resolve(POLICY);

    // Act
    const sent = await dlq.send(message(), { code: 'EVENT_REJECTED', reason: 'id must not contain control characters or line breaks, got "evt\nx"' });

    // Assess
    expect(sent).toBe(true);
    expect(sqsMock.commandCalls(GetQueueUrlCommand)[0]?.args[0].input).toEqual({ QueueName: 'rotation-relay-dlq', QueueOwnerAWSAccountId: '123456789012' });
    const input = sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(input).toEqual({
      QueueUrl: DLQ_URL,
      MessageBody: message().Body,
      MessageAttributes: {
        [DEAD_LETTER_ATTRIBUTES.code]: { DataType: 'String', StringValue: 'EVENT_REJECTED' },
        // On one line: an attribute is shown by consoles and CLIs that do not escape it.
        [DEAD_LETTER_ATTRIBUTES.reason]: { DataType: 'String', StringValue: 'id must not contain control characters or line breaks, got "evt x"' },
        [DEAD_LETTER_ATTRIBUTES.sourceMessageId]: { DataType: 'String', StringValue: 'msg-1' },
        [DEAD_LETTER_ATTRIBUTES.receiveCount]: { DataType: 'Number', StringValue: '1' },
      },
    });
    expect(metrics.total('EventsDeadLettered')).toBe(1);
    expect(dlq.url).toBe(DLQ_URL);
  });

  it('caps the reason, so a body near the size limit still fits', async () => {
    // Prepare
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: DLQ_URL });
    sqsMock.on(SendMessageCommand).resolves({});
    const { dlq } = setup();
    await dlq.resolve(POLICY);

    // Act
    await dlq.send(message(), { code: 'EVENT_REJECTED', reason: 'r'.repeat(10_000) });

    // Assess
    const reason = sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.reason]?.StringValue ?? '';
    expect(reason).toHaveLength(REASON_ATTRIBUTE_MAX);
  });

  it('gives a FIFO DLQ a group and the source message id as deduplication id', async () => {
    // Prepare
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: `${DLQ_URL}.fifo` });
    sqsMock.on(SendMessageCommand).resolves({});
    const { dlq } = setup();
    await dlq.resolve(JSON.stringify({ deadLetterTargetArn: `${DLQ_ARN}.fifo`, maxReceiveCount: 3 }));

    // Act
    await dlq.send(message({ MessageId: 'msg-fifo' }), { code: 'EVENT_REJECTED', reason: 'body is not JSON' });

    // Assess
    expect(sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input).toMatchObject({ MessageGroupId: 'rotation-relay-rejected', MessageDeduplicationId: 'msg-fifo' });
  });

  it('sends nothing and says false without a redrive policy (the queue check warns about that at start)', async () => {
    // Prepare
    const { dlq, log, metrics } = setup();
    await dlq.resolve(undefined);

    // Act
    const sent = await dlq.send(message(), { code: 'EVENT_REJECTED', reason: 'body is not JSON' });

    // Assess
    expect(sent).toBe(false);
    expect(sqsMock.calls()).toHaveLength(0);
    expect(metrics.total('EventsDeadLettered')).toBe(0);
    expect(log.records()).toEqual([]);
  });

  it('warns once when the RedrivePolicy names no readable DLQ', async () => {
    // Prepare
    const { dlq, log } = setup();

    // Act
    await dlq.resolve('{"maxReceiveCount":3}');
    const sent = await dlq.send(message(), { code: 'EVENT_REJECTED', reason: 'body is not JSON' });

    // Assess
    expect(sent).toBe(false);
    expect(log.records().filter((r) => r['level'] === 'warn')).toHaveLength(1);
    expect(log.records()[0]?.['msg']).toMatch(/RedrivePolicy names no deadLetterTargetArn.*fix the queue's RedrivePolicy/);
  });

  it('warns once, naming the grants, when the DLQ cannot be looked up; tries again a minute later, not per message', async () => {
    // Prepare
    sqsMock.on(GetQueueUrlCommand).rejectsOnce(new QueueDoesNotExist({ $metadata: { httpStatusCode: 400 }, message: 'no such queue' })).resolves({ QueueUrl: DLQ_URL });
    sqsMock.on(SendMessageCommand).resolves({});
    const { dlq, log, advance } = setup();

    // Act
    await dlq.resolve(POLICY);
    const first = await dlq.send(message(), { code: 'EVENT_REJECTED', reason: 'body is not JSON' });
    const second = await dlq.send(message({ MessageId: 'msg-2' }), { code: 'EVENT_REJECTED', reason: 'body is not JSON' });
    advance(DLQ_LOOKUP_RETRY_MS);
    const later = await dlq.send(message({ MessageId: 'msg-3' }), { code: 'EVENT_REJECTED', reason: 'body is not JSON' });

    // Assess
    expect([first, second, later]).toEqual([false, false, true]);
    expect(sqsMock.commandCalls(GetQueueUrlCommand)).toHaveLength(2);
    const warnings = log.records().filter((r) => r['level'] === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ dlq: DLQ_ARN, reason: 'QueueDoesNotExist (HTTP 400)' });
    expect(warnings[0]?.['msg']).toContain(`Grant the worker sqs:GetQueueUrl and sqs:SendMessage on ${DLQ_ARN}`);
  });

  it('says false when the send fails, warning once per kind of failure with the grant to add, never the body', async () => {
    // Prepare
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: DLQ_URL });
    sqsMock.on(SendMessageCommand).rejects(denied());
    const { dlq, log, metrics } = setup();
    await dlq.resolve(POLICY);

    // Act
    const results = [];
    for (let i = 0; i < 3; i += 1) results.push(await dlq.send(message({ MessageId: `msg-${i}` }), { code: 'EVENT_REJECTED', reason: 'body is not JSON' }));

    // Assess
    expect(results).toEqual([false, false, false]);
    expect(metrics.total('EventsDeadLettered')).toBe(0);
    const warnings = log.records().filter((r) => r['level'] === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ dlq: DLQ_ARN, code: 'EVENT_REJECTED', messageId: 'msg-0', reason: 'AccessDenied (HTTP 403)' });
    expect(warnings[0]?.['msg']).toContain(`Grant the worker sqs:SendMessage on ${DLQ_ARN}`);
    expect(log.lines().join('\n')).not.toContain(BODY_MARKER);
  });

  it('names the DLQ to check, not a grant, when the send fails for another reason', async () => {
    // Prepare
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: DLQ_URL });
    sqsMock.on(SendMessageCommand).rejects(new QueueDoesNotExist({ $metadata: { httpStatusCode: 400 }, message: 'gone' }));
    const { dlq, log } = setup();
    await dlq.resolve(POLICY);

    // Act
    const sent = await dlq.send(message(), { code: 'EVENT_REJECTED', reason: 'body is not JSON' });

    // Assess
    expect(sent).toBe(false);
    const warning = log.records().find((r) => r['level'] === 'warn');
    expect(warning).toMatchObject({ reason: 'QueueDoesNotExist (HTTP 400)' });
    expect(warning?.['msg']).toContain(`Check that ${DLQ_ARN} exists and is reachable`);
  });

  it('warns again about a failure that comes back after a send worked', async () => {
    // Prepare
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: DLQ_URL });
    sqsMock.on(SendMessageCommand).rejectsOnce(denied()).resolvesOnce({}).rejectsOnce(denied());
    const { dlq, log } = setup();
    await dlq.resolve(POLICY);

    // Act
    for (let i = 0; i < 3; i += 1) await dlq.send(message({ MessageId: `msg-${i}` }), { code: 'EVENT_REJECTED', reason: 'body is not JSON' });

    // Assess
    expect(log.records().filter((r) => r['level'] === 'warn')).toHaveLength(2);
  });
});
