/**
 * The floor of the worker benchmarks: bare `sqs-consumer` receive loops (the package and version
 * the worker uses), built with the options the worker's own intake (src/relay/worker/sqs-intake.ts)
 * gives them, so the floor and the worker receive, hold and delete messages the same way. What the
 * handler does is the caller's: bench/support/bare-consumer-process.ts (one DescribeSecret per
 * message, for bench/worker.ts) or a receive stamp (bench/worker-publish-latency.ts).
 *
 * Runtime imports are packages only: the process entry is transpiled file by file and run under
 * plain node, like the compiled worker, and must not pull in src/ or tsx.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { Consumer } from 'sqs-consumer';

/** The receive settings the floor shares with the worker it is compared with (a WorkerConfig's). */
export interface BareConsumerSettings {
  queueUrl: string;
  /** Receive loops (ROTATION_RELAY_CONSUMERS), each with one batch in flight at a time. */
  consumers: number;
  batchSize: number;
  waitTimeSeconds: number;
  visibilityTimeoutSeconds: number;
}

/** The same fields picked from a worker's config (a WorkerConfig, or anything shaped like one). */
export function bareConsumerSettings(config: BareConsumerSettings): BareConsumerSettings {
  const { queueUrl, consumers, batchSize, waitTimeSeconds, visibilityTimeoutSeconds } = config;
  return { queueUrl, consumers, batchSize, waitTimeSeconds, visibilityTimeoutSeconds };
}

/** What is passed to sqs-consumer besides the handler, for the result's `settings`. */
export function consumerOptions(settings: BareConsumerSettings): {
  batchSize: number;
  waitTimeSeconds: number;
  visibilityTimeout: number;
  heartbeatInterval: number;
  messageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'];
  useQueueUrlAsEndpoint: false;
} {
  return {
    batchSize: settings.batchSize,
    waitTimeSeconds: settings.waitTimeSeconds,
    visibilityTimeout: settings.visibilityTimeoutSeconds,
    // As the worker's intake: a batch that takes long keeps its messages hidden.
    heartbeatInterval: Math.max(1, Math.floor(settings.visibilityTimeoutSeconds / 2)),
    // The worker asks for these (the receive count and the send time ride on every message).
    messageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
    // The benchmarks' SQS (fauxqs) is an endpoint override: its queue URL's host does not resolve.
    useQueueUrlAsEndpoint: false,
  };
}

/**
 * `settings.consumers` receive loops (not started). `handleBatch` gets each ReceiveMessage reply's
 * messages and resolves with those to delete, which sqs-consumer deletes with one
 * DeleteMessageBatch, as the worker's intake does. Not set, because only failures take them: the
 * worker's `terminateVisibilityTimeout` backoff (a batch whose delete failed) and its shutdown wait.
 */
export function createBareConsumers(
  settings: BareConsumerSettings,
  sqs: SQSClient,
  handleBatch: (messages: Message[]) => Promise<Message[]>,
  onError: (error: Error) => void,
): Consumer[] {
  return Array.from({ length: settings.consumers }, () => {
    const consumer = Consumer.create({
      queueUrl: settings.queueUrl,
      sqs,
      ...consumerOptions(settings),
      suppressFifoWarning: true,
      handleMessageBatch: handleBatch,
    });
    consumer.on('error', onError);
    consumer.on('processing_error', onError);
    return consumer;
  });
}

/** Stops the loops; an idle long poll is aborted rather than waited for (up to 20 s). */
export async function stopBareConsumers(consumers: Consumer[]): Promise<void> {
  await Promise.all(
    consumers.map(async (consumer) => {
      if (!consumer.status.isRunning) return;
      const stopped = new Promise<void>((resolve) => consumer.once('stopped', () => resolve()));
      consumer.stop({ abort: true });
      await stopped;
    }),
  );
}

/** Where an EventBridge rotation event names its secret (the ARN in `resources`, else the CloudTrail fields). */
export function secretIdOf(body: string): string {
  const event = JSON.parse(body) as {
    resources?: unknown[];
    detail?: { requestParameters?: { secretId?: unknown } | null; additionalEventData?: { SecretId?: unknown } | null };
  };
  const id = event.resources?.[0] ?? event.detail?.requestParameters?.secretId ?? event.detail?.additionalEventData?.SecretId;
  if (typeof id !== 'string' || id === '') throw new Error('event names no secret');
  return id;
}

/** The version of the sqs-consumer this module loads (the worker resolves the same installed copy). */
export function sqsConsumerVersion(): string {
  // The package's entry is <package>/dist/esm/index.js; its package.json is three folders up.
  const file = fileURLToPath(new URL('../../package.json', import.meta.resolve('sqs-consumer')));
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}
