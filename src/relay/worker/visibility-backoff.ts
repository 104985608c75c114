import { ChangeMessageVisibilityBatchCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '../../common/index.js';

/**
 * Why this exists: a message that failed transiently (Redis or Secrets Manager away) should come
 * back soon enough to be retried, but not at once and not all together. Left alone it would
 * return only after the full visibility timeout; shortened to its own backoff, each message comes
 * back after 2, 4, 8 … s by its own receive count, capped at the visibility timeout.
 */

/** Backoff for messages that failed transiently: 2, 4, 8 … s by receive count, capped. */
export function retryVisibilitySeconds(messages: Message[], cap: number): number {
  const receives = Number(messages[0]?.Attributes?.ApproximateReceiveCount ?? '1');
  return Math.min(cap, 2 ** Math.min(Math.max(receives, 1), 10));
}

export interface BackOffTarget {
  sqs: SQSClient;
  queueUrl: string;
  /** The queue's visibility timeout (ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS): the backoff's cap. */
  visibilityTimeoutSeconds: number;
  logger: Logger;
}

/** Messages that failed transiently come back after 2, 4, 8 … s by their own receive count. Never throws. */
export async function backOff(target: BackOffTarget, messages: Message[]): Promise<void> {
  const cap = target.visibilityTimeoutSeconds;
  try {
    const result = await target.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: target.queueUrl,
        Entries: messages.map((message, i) => ({
          Id: String(i),
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: retryVisibilitySeconds([message], cap),
        })),
      }),
    );
    if (result.Failed && result.Failed.length > 0) {
      target.logger.warn({ failed: result.Failed.length }, 'could not shorten the visibility of failed messages; they return after the visibility timeout');
    }
  } catch (error) {
    // They come back after the visibility timeout anyway.
    target.logger.warn({ err: { name: error instanceof Error ? error.name : 'unknown' } }, 'could not shorten the visibility of failed messages; they return after the visibility timeout');
  }
}
