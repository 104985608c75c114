import { describeError, type Logger } from '../../common/index.js';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { Consumer } from 'sqs-consumer';
import type { Metrics } from '../../metrics/index.js';
import type { DeadLetterQueue, RejectionCode } from './dead-letter.js';
import type { MessageOutcome } from './handle-message.js';
import { settleMessage, type Disposition } from './message-disposition.js';
import { backOff, retryVisibilitySeconds } from './visibility-backoff.js';

/**
 * Why this exists: what the worker does with a message (handle-message.ts) should not depend on
 * how messages arrive and leave. This part owns the queue side, and nothing else: the receive
 * loops (sqs-consumer), the batches, which messages are deleted, which come back after a backoff,
 * the DLQ hand-off of rejected ones (message-disposition.ts), and stopping without losing what is
 * in flight. What it does not finish returns to the queue.
 */

export interface IntakeOptions {
  queueUrl: string;
  /** Receive loops (ROTATION_RELAY_CONSUMERS), each with one batch in flight at a time. */
  consumers: number;
  batchSize: number;
  waitTimeSeconds: number;
  visibilityTimeoutSeconds: number;
  /** How long `stop()` lets in-flight batches finish (ROTATION_RELAY_SHUTDOWN_TIMEOUT_MS). */
  shutdownTimeoutMs: number;
  /** False with an endpoint override (LocalStack, moto), whose queue URL's host may not resolve. */
  useQueueUrlAsEndpoint: boolean;
}

/** When and in which receive a message arrived, for the handler. */
export interface Arrival {
  receivedAt: number;
  /** The receive's number (SharedReads.receive()). */
  receipt: number;
}

export interface IntakeDeps {
  sqs: SQSClient;
  logger: Logger;
  metrics: Metrics;
  deadLetters: Pick<DeadLetterQueue, 'send'>;
  /** Numbers each ReceiveMessage reply; every message of it carries the number. */
  receive(): number;
  /** Handles one message; throws when it failed transiently (the message is then retried). */
  handle(message: Message, arrival: Arrival): Promise<MessageOutcome>;
  retried?(error: Error, message: Message): void;
  deadLettered?(code: RejectionCode, message: Message): void;
  now?: () => number;
}

export class SqsIntake {
  private readonly consumers: Consumer[] = [];
  /** Messages in flight per consumer: an idle one's long poll is aborted at shutdown. */
  private readonly consumerInFlight: number[] = [];
  private inFlightCount = 0;
  private stopping = false;
  private readonly now: () => number;

  constructor(
    private readonly options: IntakeOptions,
    private readonly deps: IntakeDeps,
  ) {
    this.now = deps.now ?? Date.now;
    for (let index = 0; index < options.consumers; index += 1) this.consumers.push(this.createConsumer(index));
  }

  /** Receive loops polling now. */
  get running(): number {
    return this.consumers.filter((consumer) => consumer.status.isRunning).length;
  }

  /** Messages being handled now, over all consumers. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  start(): void {
    for (const consumer of this.consumers) consumer.start();
  }

  /**
   * Stops receiving and resolves once every loop has stopped: a loop with messages in flight lets
   * them finish (and be deleted) first, bounded by the shutdown timeout.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.consumers.map(async (consumer, index) => {
        if (!consumer.status.isRunning) return;
        const stopped = new Promise<void>((resolve) => consumer.once('stopped', () => resolve()));
        // A consumer with no message in flight has only an idle long poll pending: abort it
        // rather than wait up to 20 s. One with messages in flight lets them finish (and be
        // deleted) first, bounded by the shutdown timeout.
        consumer.stop({ abort: (this.consumerInFlight[index] ?? 0) === 0 });
        await stopped;
      }),
    );
  }

  /**
   * One receive loop. sqs-consumer handles one batch at a time per consumer, so several consumers
   * keep several batches in flight. Batches go through `handleMessageBatch` so that the handled
   * messages are deleted with one DeleteMessageBatch call; a message that failed transiently gets
   * its own backoff (ChangeMessageVisibilityBatch), and a rejected one is sent to the DLQ and
   * deleted with them (or, when that send fails, left for the redrive policy).
   */
  private createConsumer(index: number): Consumer {
    const { options } = this;
    this.consumerInFlight[index] = 0;
    const consumer = Consumer.create({
      queueUrl: options.queueUrl,
      sqs: this.deps.sqs,
      batchSize: options.batchSize,
      waitTimeSeconds: options.waitTimeSeconds,
      visibilityTimeout: options.visibilityTimeoutSeconds,
      heartbeatInterval: Math.max(1, Math.floor(options.visibilityTimeoutSeconds / 2)),
      messageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      // Only when the batch as a whole fails (DeleteMessageBatch): the messages come back after a backoff.
      terminateVisibilityTimeout: (messages) => retryVisibilitySeconds(messages, options.visibilityTimeoutSeconds),
      pollingCompleteWaitTimeMs: options.shutdownTimeoutMs,
      useQueueUrlAsEndpoint: options.useQueueUrlAsEndpoint,
      suppressFifoWarning: true,
      handleMessageBatch: (messages) => this.handleBatch(index, messages),
    });
    // Processing errors are handled per message; these are SQS-level errors (receive, delete).
    consumer.on('error', (error) => {
      // Stopping aborts the idle long polls: that is not an error worth an alert.
      if (this.stopping && /abort/i.test(error.message)) return;
      this.deps.logger.error({ err: { name: error.name, message: describeError(error) }, consumer: index }, 'sqs error');
    });
    consumer.on('processing_error', () => undefined);
    return consumer;
  }

  /** Handles one batch; resolves with the messages to delete. */
  private async handleBatch(index: number, messages: Message[]): Promise<Message[]> {
    const arrival: Arrival = { receipt: this.deps.receive(), receivedAt: this.now() };
    this.inFlightCount += messages.length;
    this.consumerInFlight[index] = (this.consumerInFlight[index] ?? 0) + messages.length;
    try {
      const dispositions: Disposition[] = await Promise.all(
        messages.map((message) => settleMessage(this.deps, message, () => this.deps.handle(message, arrival))),
      );
      const retry = messages.filter((_, i) => dispositions[i] === 'retry');
      if (retry.length > 0) await backOff({ ...this.options, sqs: this.deps.sqs, logger: this.deps.logger }, retry);
      return messages.filter((_, i) => dispositions[i] === 'ack');
    } finally {
      this.inFlightCount -= messages.length;
      this.consumerInFlight[index] = (this.consumerInFlight[index] ?? 0) - messages.length;
    }
  }
}
