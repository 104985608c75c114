import type { Message } from '@aws-sdk/client-sqs';
import { describeCause, type Logger } from '../../common/index.js';
import type { Metrics } from '../../metrics/index.js';
import type { DeadLetterQueue, RejectionCode } from './dead-letter.js';
import type { MessageOutcome } from './handle-message.js';

/**
 * Why this exists: the handler says what became of a message; what the queue must then do with
 * it is a separate decision, and the one that loses or repeats messages when it is wrong. Here,
 * and only here, an outcome becomes one of three dispositions:
 * - `ack`: delete it (handled, or safely in the DLQ);
 * - `leave`: keep it, with its visibility as it is (a rejected message the DLQ did not take stays
 *   for the redrive policy, without a retry's backoff);
 * - `retry`: keep it and bring it back soon (the handling failed transiently, see visibility-backoff.ts).
 */
export type Disposition = 'ack' | 'leave' | 'retry';

export interface DispositionDeps {
  deadLetters: Pick<DeadLetterQueue, 'send'>;
  metrics: Metrics;
  logger: Logger;
  /** A message whose handling failed transiently; it stays on the queue. */
  retried?(error: Error, message: Message): void;
  /** A rejected message the DLQ now holds, before its delete from the queue. */
  deadLettered?(code: RejectionCode, message: Message): void;
}

/** Runs `handle` for `message` and says what the queue must do with it. Never throws. */
export async function settleMessage(deps: DispositionDeps, message: Message, handle: () => Promise<MessageOutcome>): Promise<Disposition> {
  try {
    const outcome = await handle();
    if (outcome.kind === 'rejected') return await deadLetter(deps, outcome.code, outcome.reason, message);
    return outcome.ack ? 'ack' : 'leave';
  } catch (error) {
    deps.metrics.count('PublishErrors');
    const err = error instanceof Error ? error : new Error(String(error));
    deps.logger.warn(
      // `cause`: what was under it (refused, a certificate error, an AWS error name), told safely.
      { messageId: message.MessageId, err: { name: err.name, code: (err as { code?: unknown }).code, message: err.message, cause: describeCause(err) } },
      'message failed; it stays on the queue and will be retried',
    );
    deps.retried?.(err, message);
    return 'retry';
  }
}

/**
 * A message that can never be published goes to the DLQ now rather than after maxReceiveCount
 * receives; deleted (acknowledged) only once the DLQ holds it. Never throws: a failed send
 * leaves it, as before, for the redrive policy.
 */
async function deadLetter(deps: DispositionDeps, code: RejectionCode, reason: string, message: Message): Promise<Disposition> {
  if (!(await deps.deadLetters.send(message, { code, reason }))) return 'leave';
  deps.deadLettered?.(code, message);
  return 'ack';
}
