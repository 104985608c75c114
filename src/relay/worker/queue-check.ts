import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { describeError, type Logger } from '../../common/index.js';
import { QueueUnavailableError } from './errors.js';

/**
 * Fail at start-up, not at the first message, when the queue URL is wrong or not readable, and
 * warn when the queue has no redrive policy: rejected messages rely on it to reach the DLQ and
 * would otherwise come back forever. Returns the `RedrivePolicy` attribute (JSON), which names the
 * DLQ the worker sends rejected messages to itself (dead-letter.ts).
 */
export async function checkQueue(sqs: SQSClient, queueUrl: string, logger: Logger): Promise<{ redrivePolicy?: string }> {
  let attributes: Record<string, string> | undefined;
  try {
    const output = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy', 'VisibilityTimeout'] }),
    );
    attributes = output.Attributes;
  } catch (error) {
    // The cause, told safely: ECONNREFUSED with the address, AWS.SimpleQueueService.NonExistentQueue, AccessDenied…
    throw new QueueUnavailableError(`cannot read queue ${queueUrl} (${describeError(error)}); check ROTATION_RELAY_QUEUE_URL, the region and the IAM policy`, {
      cause: error,
    });
  }
  if (!attributes?.RedrivePolicy) {
    logger.warn(
      { queueUrl },
      'queue has no redrive policy: messages the worker rejects will be retried until they expire instead of moving to a DLQ; give the queue a RedrivePolicy with a deadLetterTargetArn',
    );
    return {};
  }
  return { redrivePolicy: attributes.RedrivePolicy };
}
