import { GetQueueUrlCommand, SendMessageCommand, type Message, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import { describeError, type Logger } from '../../common/index.js';
import { shortText } from '../events/index.js';
import type { Metrics } from '../../metrics/index.js';

/**
 * Why the worker refused a message, as a stable code: the `RotationRelayRejectedCode` attribute of
 * the copy it sends to the DLQ, and the `code` field of its log line.
 * - `EVENT_REJECTED`: the event parser refused the body (not JSON, not a Secrets Manager event,
 *   a field over its documented maximum or malformed; docs/deploy.md#event-limits).
 * - `EVENT_WITHOUT_SECRET_ID`: an invalidation without a secret id (a guard of the parser's contract).
 * - `PROTOCOL_INVALID_INVALIDATION`: the invalidation built from it would be refused by subscribers.
 * - `SECRET_REQUEST_INVALID`: Secrets Manager refused the DescribeSecret request as invalid.
 */
export type RejectionCode = 'EVENT_REJECTED' | 'EVENT_WITHOUT_SECRET_ID' | 'PROTOCOL_INVALID_INVALIDATION' | 'SECRET_REQUEST_INVALID';

/** Message attributes of a body the worker moved to the DLQ itself (the body is the original, unchanged). */
export const DEAD_LETTER_ATTRIBUTES = {
  /** A {@link RejectionCode}. */
  code: 'RotationRelayRejectedCode',
  /** The rejection's reason on one line, at most {@link REASON_ATTRIBUTE_MAX} characters. */
  reason: 'RotationRelayRejectedReason',
  /** The message id on the worker's queue, to match the worker's log line. */
  sourceMessageId: 'RotationRelaySourceMessageId',
  /** ApproximateReceiveCount on the worker's queue when it was rejected: 1 unless the DLQ was unreachable before. */
  receiveCount: 'RotationRelayReceiveCount',
} as const;

/** Long enough for every reason the parser gives; short, so a body near the SQS size limit still fits. */
export const REASON_ATTRIBUTE_MAX = 256;

/** How long after a failed lookup of the DLQ's URL the next rejected message tries again. */
export const DLQ_LOOKUP_RETRY_MS = 60_000;

/** `deadLetterTargetArn` of a queue's `RedrivePolicy` attribute (a JSON string), if it names one. */
export function deadLetterTargetArn(redrivePolicy: string | undefined): string | undefined {
  if (redrivePolicy === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(redrivePolicy);
    const arn = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)['deadLetterTargetArn'] : undefined;
    return typeof arn === 'string' && arn !== '' ? arn : undefined;
  } catch {
    return undefined;
  }
}

/** Queue name and owner account of an SQS queue ARN (`arn:aws:sqs:eu-west-1:123456789012:name`). */
export function queueOfArn(arn: string): { name: string; accountId: string } | undefined {
  const match = /^arn:[a-z-]+:sqs:[a-z0-9-]*:(\d{12}):([A-Za-z0-9_-]{1,80}(?:\.fifo)?)$/.exec(arn);
  return match ? { accountId: match[1] ?? '', name: match[2] ?? '' } : undefined;
}

export interface DeadLetterDeps {
  sqs: SQSClient;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
}

type Target = { state: 'none' } | { state: 'unresolved'; arn: string; triedAt: number } | { state: 'ready'; arn: string; url: string };

/**
 * Moves a message that can never be published to the queue's DLQ on its first receive, instead
 * of leaving it for SQS to move after maxReceiveCount receives (each of which would come back,
 * be parsed and counted again). The DLQ is the one the queue's RedrivePolicy names, so this needs
 * only `sqs:GetQueueUrl` and `sqs:SendMessage` on it; the copy keeps the original body, with
 * {@link DEAD_LETTER_ATTRIBUTES} saying why. When the DLQ is unknown or the send fails, `send`
 * says false and the caller leaves the message for the redrive policy, as before; what to fix is
 * logged once per cause (again after a send has worked in between), never the body.
 */
export class DeadLetterQueue {
  private target: Target = { state: 'none' };
  private readonly warned = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly deps: DeadLetterDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The DLQ's URL once known. */
  get url(): string | undefined {
    return this.target.state === 'ready' ? this.target.url : undefined;
  }

  /**
   * Learns the DLQ from the queue's `RedrivePolicy` attribute (as read at start-up). Never
   * throws: a queue without a DLQ is told at start by the queue check, a DLQ that cannot be looked
   * up is logged here and looked up again by a later rejected message.
   */
  async resolve(redrivePolicy: string | undefined): Promise<void> {
    if (redrivePolicy === undefined) return;
    const arn = deadLetterTargetArn(redrivePolicy);
    if (arn === undefined || queueOfArn(arn) === undefined) {
      this.warnOnce('policy', {}, "the queue's RedrivePolicy names no deadLetterTargetArn the worker can read: rejected messages are left for SQS's own redrive; fix the queue's RedrivePolicy");
      return;
    }
    this.target = { state: 'unresolved', arn, triedAt: Number.NEGATIVE_INFINITY };
    await this.lookUp();
  }

  /** Sends `message` to the DLQ and says whether it is there (the caller then deletes it from the queue). */
  async send(message: Message, rejection: { code: RejectionCode; reason: string }): Promise<boolean> {
    if (this.target.state === 'unresolved' && this.now() - this.target.triedAt >= DLQ_LOOKUP_RETRY_MS) await this.lookUp();
    const target = this.target;
    if (target.state !== 'ready') return false;
    const receiveCount = message.Attributes?.ApproximateReceiveCount;
    const attributes: Record<string, MessageAttributeValue> = {
      [DEAD_LETTER_ATTRIBUTES.code]: { DataType: 'String', StringValue: rejection.code },
      [DEAD_LETTER_ATTRIBUTES.reason]: { DataType: 'String', StringValue: shortText(rejection.reason, REASON_ATTRIBUTE_MAX) || rejection.code },
      ...(message.MessageId ? { [DEAD_LETTER_ATTRIBUTES.sourceMessageId]: { DataType: 'String', StringValue: message.MessageId } } : {}),
      ...(receiveCount ? { [DEAD_LETTER_ATTRIBUTES.receiveCount]: { DataType: 'Number', StringValue: receiveCount } } : {}),
    };
    // A FIFO queue has a FIFO DLQ, which needs a group and a deduplication id: the source message
    // id makes a repeat of this send (its delete failed, it came back) one DLQ message, not two.
    const fifo = target.url.endsWith('.fifo') ? { MessageGroupId: 'rotation-relay-rejected', MessageDeduplicationId: message.MessageId ?? String(this.now()) } : {};
    try {
      await this.deps.sqs.send(new SendMessageCommand({ QueueUrl: target.url, MessageBody: message.Body ?? '', MessageAttributes: attributes, ...fifo }));
    } catch (error) {
      // Once per kind of failure: the name (AccessDenied, a timeout), not the text, which may carry a request id.
      const name = error instanceof Error ? error.name : 'unknown';
      const fix = /denied|authori[sz]|forbidden/i.test(name)
        ? `Grant the worker sqs:SendMessage on ${target.arn}`
        : `Check that ${target.arn} exists and is reachable (a body at the SQS size limit has no room for the attributes)`;
      this.warnOnce(
        `send:${name}`,
        { dlq: target.arn, code: rejection.code, messageId: message.MessageId, reason: describeError(error) },
        `could not send a rejected message to the DLQ; it is left for the redrive policy (moved after maxReceiveCount receives). ${fix}`,
      );
      return false;
    }
    // A later failure is news again.
    this.warned.clear();
    this.deps.metrics.count('EventsDeadLettered');
    return true;
  }

  private async lookUp(): Promise<void> {
    if (this.target.state !== 'unresolved') return;
    const { arn } = this.target;
    const queue = queueOfArn(arn);
    if (queue === undefined) return;
    try {
      const { QueueUrl } = await this.deps.sqs.send(new GetQueueUrlCommand({ QueueName: queue.name, QueueOwnerAWSAccountId: queue.accountId }));
      if (!QueueUrl) throw new Error('GetQueueUrl returned no URL');
      this.target = { state: 'ready', arn, url: QueueUrl };
      this.deps.logger.info({ dlq: arn }, 'rejected messages go to the DLQ on their first receive');
    } catch (error) {
      this.target = { state: 'unresolved', arn, triedAt: this.now() };
      this.warnOnce(
        'lookup',
        { dlq: arn, reason: describeError(error) },
        `cannot look up the DLQ's URL; rejected messages are left for the redrive policy (moved after maxReceiveCount receives). Grant the worker sqs:GetQueueUrl and sqs:SendMessage on ${arn}`,
      );
    }
  }

  private warnOnce(key: string, fields: Record<string, unknown>, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.deps.logger.warn(fields, message);
  }
}
