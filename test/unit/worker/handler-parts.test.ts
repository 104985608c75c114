import type { Message } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import type { RotationEvent } from '../../../src/relay/events/index.js';
import { fastPublishRequest } from '../../../src/relay/worker/fast-publish-request.js';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { supersededIn } from '../../../src/relay/worker/invalidate-event.js';
import { timelineEntry } from '../../../src/relay/worker/message-timeline.js';
import { ReceiptLine } from '../../../src/relay/worker/receipt-line.js';
import { retryVisibilitySeconds } from '../../../src/relay/worker/visibility-backoff.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf';

function labelUpdated(overrides: Partial<RotationEvent> = {}): RotationEvent & { secretArn: string } {
  return {
    action: 'invalidate',
    family: 'label-updated',
    detailType: 'Secret Label Updated',
    secretArn: ARN,
    secretName: 'db',
    versionId: 'v2',
    movesCurrent: true,
    eventId: 'evt-1',
    eventTime: '2024-05-01T12:00:00Z',
    reason: 'AWSCURRENT moved to version v2',
    ...overrides,
  } as RotationEvent & { secretArn: string };
}

describe('ReceiptLine', () => {
  it('is first in line only while no message from an earlier receive is in flight for the secret', () => {
    // Prepare
    const line = new ReceiptLine();
    const leaveEarly = line.enter('db', 1);
    line.enter('db', 2);

    // Act, Assess
    expect(line.firstInLine('db', 2)).toBe(false);
    expect(line.firstInLine('db', 1)).toBe(true);
    expect(line.firstInLine('other', 2)).toBe(true);
    leaveEarly();
    expect(line.firstInLine('db', 2)).toBe(true);
  });

  it('keeps one entry per message, so two messages of one receive leave independently', () => {
    // Prepare
    const line = new ReceiptLine();
    line.enter('db', 1);
    const leaveSecond = line.enter('db', 1);

    // Act
    leaveSecond();

    // Assess: the first message of receipt 1 is still in flight.
    expect(line.firstInLine('db', 2)).toBe(false);
  });
});

describe('fastPublishRequest', () => {
  it('publishes the event itself when it says which version became AWSCURRENT, and when', () => {
    expect(fastPublishRequest(labelUpdated())).toEqual({
      fields: { secretArn: ARN, secretName: 'db', versionId: 'v2', reason: 'Secret Label Updated', eventId: 'evt-1', eventTime: '2024-05-01T12:00:00Z' },
      eventTime: Date.parse('2024-05-01T12:00:00Z'),
    });
  });

  it.each([
    ['does not say it moves AWSCURRENT', { movesCurrent: undefined }],
    ['names no version', { versionId: undefined }],
    ['has no event id', { eventId: undefined }],
    ['has no secret name', { secretName: undefined }],
    ['has no event time', { eventTime: undefined }],
    ['has an unreadable event time', { eventTime: 'yesterday' }],
    ['names the secret without its full ARN', { secretArn: 'db' }],
  ])('waits for DescribeSecret when the event %s', (_case, overrides) => {
    expect(fastPublishRequest(labelUpdated(overrides as Partial<RotationEvent>))).toBeUndefined();
  });
});

describe('supersededIn', () => {
  it('lists the versions neither current nor pending', () => {
    expect(
      supersededIn({ arn: ARN, name: 'db', versionId: 'v3', stagesByVersion: { v1: [], v2: ['AWSPREVIOUS'], v3: ['AWSCURRENT'], v4: ['AWSPENDING'] } }),
    ).toEqual(['v1', 'v2']);
    expect(supersededIn({ arn: ARN, name: 'db', versionId: 'v3' })).toEqual([]);
  });
});

describe('timelineEntry', () => {
  const message: Message = { MessageId: 'm-1', Attributes: { SentTimestamp: '1700000000000' } };

  it('records a publish with its receivers, the event and when SQS got it', () => {
    const outcome: MessageOutcome = { kind: 'published', ack: true, secretArn: ARN, versionId: 'v2', receivers: 3 };
    expect(timelineEntry(outcome, labelUpdated(), message, 1_700_000_000_500, 1_700_000_000_700)).toEqual({
      secretArn: ARN,
      receivedAt: 1_700_000_000_500,
      handledAt: 1_700_000_000_700,
      enqueuedAt: 1_700_000_000_000,
      outcome: 'published',
      versionId: 'v2',
      receivers: 3,
      eventName: 'Secret Label Updated',
      eventId: 'evt-1',
      eventTime: '2024-05-01T12:00:00Z',
    });
  });

  it('records nothing for outcomes the timeline does not show', () => {
    const outcomes: MessageOutcome[] = [
      { kind: 'ignored', ack: true, reason: 'x' },
      { kind: 'alerted', ack: true, reason: 'x' },
      { kind: 'rejected', ack: false, code: 'EVENT_REJECTED', reason: 'x' },
    ];
    for (const outcome of outcomes) expect(timelineEntry(outcome, undefined, message, 1, 2)).toBeUndefined();
  });

  it('leaves out an enqueue time SQS did not give', () => {
    const outcome: MessageOutcome = { kind: 'duplicate-event', ack: true, secretArn: ARN };
    expect(timelineEntry(outcome, undefined, { MessageId: 'm-2' }, 1, 2)).toEqual({ secretArn: ARN, receivedAt: 1, handledAt: 2, outcome: 'duplicate-event' });
  });
});

describe('retryVisibilitySeconds', () => {
  it.each([
    [undefined, 30, 2],
    ['0', 30, 2],
    ['1', 30, 2],
    ['3', 30, 8],
    ['5', 30, 30],
    ['12', 2_000, 1_024],
  ])('receive count %s, cap %i: %i s', (receives, cap, seconds) => {
    const attributes = receives === undefined ? {} : { Attributes: { ApproximateReceiveCount: receives } };
    expect(retryVisibilitySeconds([{ MessageId: 'm', ...attributes }], cap)).toBe(seconds);
  });
});
