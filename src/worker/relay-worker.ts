import { EventEmitter } from 'node:events';
import { ChangeMessageVisibilityBatchCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Consumer } from 'sqs-consumer';
import { assertSigningChosen, UNSIGNED_WARNING, type WorkerConfig } from '../config/index.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { MetricsEmitter, NoopMetrics, type Metrics } from '../metrics/index.js';
import {
  createInvalidation,
  publishIfNewer,
  publishInvalidation,
  readPublishedVersion,
  signIfKeyed,
} from '../protocol/index.js';
import { describeCause } from '../error-cause.js';
import { connectRedis, describeRedisTarget, waitForReady, type RedisClient } from '../redis/connect.js';
import { connectRotatingRedis, WORKER_CONNECTION } from './rotating-redis.js';
import type { CredentialCache } from '../subscriber/index.js';
import { createSecretsClient, describeCurrentVersion, SDK_CLIENT_SETTINGS, type CurrentVersion } from '../secrets/index.js';
import { createMessageHandler, type MessageHandler, type MessageOutcome } from './handle-message.js';
import { startHealthServer, type HealthServer } from './health-server.js';
import { checkQueue } from './queue-check.js';
import { DeadLetterQueue, type RejectionCode } from './dead-letter.js';
import type { RotationEvent } from '../events/index.js';
import { recordTimeline, type TimelineEntry } from '../fleet/index.js';
import { SharedReads } from './shared-reads.js';
import { InstancesStaleCheck, type InstancesStaleOptions } from './instances-stale.js';

export interface WorkerDeps {
  /** Pass clients to share them or point them at an emulator; built from config otherwise. */
  sqs?: SQSClient;
  secrets?: SecretsManagerClient;
  redis?: RedisClient;
  logger?: Logger;
  metrics?: Metrics;
  /** The periodic `InstancesStale` check (fleet convergence); `false` turns it off. @defaultValue every 30 s, 60 s grace */
  instancesStale?: InstancesStaleOptions | false;
}

export interface WorkerEvents {
  /**
   * Once per message, with what became of it (tests and the CLI await these), as soon as that is
   * known: for a fast publish when the PUBLISH reply is back, before the DescribeSecret
   * confirmation and the delete; otherwise when the handling is done, before the delete.
   */
  outcome: [MessageOutcome, Message];
  /** A fast publish that DescribeSecret contradicted, after the correction was published. */
  corrected: [Extract<MessageOutcome, { kind: 'published' }>, Message];
  /** A message whose handling failed transiently; it stays on the queue. */
  retry: [Error, Message];
  /**
   * A rejected message (it can never be published) sent to the DLQ on this receive, before its
   * delete from the queue. A rejected message not sent (no DLQ known, the send failed) stays on
   * the queue for the redrive policy and has no such event.
   */
  deadLettered: [RejectionCode, Message];
  /** The consumer is polling. */
  started: [];
  stopped: [];
}

export interface WorkerStatus {
  /** Every consumer is polling. */
  running: boolean;
  /** Consumers polling now, of `consumersConfigured` (ROTATION_RELAY_CONSUMERS). */
  consumersRunning: number;
  consumersConfigured: number;
  redisReady: boolean;
  /** Messages being handled now, over all consumers. */
  inFlight: number;
  /** DescribeSecret reads started, and reads shared by messages handled together. */
  reads: { started: number; shared: number };
  healthPort?: number;
}

/** Backoff for messages that failed transiently: 2, 4, 8 … s by receive count, capped. */
function retryVisibilitySeconds(messages: Message[], cap: number): number {
  const receives = Number(messages[0]?.Attributes?.ApproximateReceiveCount ?? '1');
  return Math.min(cap, 2 ** Math.min(Math.max(receives, 1), 10));
}

type Disposition = 'ack' | 'leave' | 'retry';

/**
 * The relay: SQS → parse → confirm with DescribeSecret → one signed PUBLISH per change.
 * Lifecycle: `start()` connects Redis, checks the queue, serves health and starts consuming;
 * `stop()` stops receiving, lets in-flight messages finish (bounded by the shutdown timeout),
 * then closes everything. What it does not finish returns to the queue.
 */
export class RelayWorker extends EventEmitter<WorkerEvents> {
  readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly sqs: SQSClient;
  private readonly secrets: SecretsManagerClient;
  private redis: RedisClient | undefined;
  private readonly ownsRedis: boolean;
  /** Follows the Redis password's own secret, when ROTATION_RELAY_REDIS_PASSWORD_SECRET_ID is set. */
  private passwordCache?: CredentialCache;
  private readonly consumers: Consumer[] = [];
  /** Messages in flight per consumer: an idle one's long poll is aborted at shutdown. */
  private readonly consumerInFlight: number[] = [];
  private reads?: SharedReads<CurrentVersion>;
  private readonly deadLetters: DeadLetterQueue;
  private health?: HealthServer;
  private staleCheck?: InstancesStaleCheck;
  private readonly staleOptions: InstancesStaleOptions | false;
  private inFlight = 0;
  private stopping?: Promise<void>;
  private onStopRequested?: () => void;

  constructor(
    private readonly config: WorkerConfig,
    deps: WorkerDeps = {},
  ) {
    super();
    // loadWorkerConfig checks this too; a config built by hand must not slip past it.
    assertSigningChosen(config.signing);
    this.logger = deps.logger ?? createLogger({ level: config.logLevel, base: { component: 'worker' } });
    this.metrics = deps.metrics ?? (config.metrics ? new MetricsEmitter({ logger: this.logger }) : new NoopMetrics());
    // With an endpoint override (LocalStack, moto) the queue URL's host may not resolve; the
    // SDK's own default is to send each call to the queue URL's host.
    this.sqs = deps.sqs ?? new SQSClient({ region: config.aws.region, useQueueUrlAsEndpoint: !config.aws.customSqsEndpoint, ...SDK_CLIENT_SETTINGS });
    this.secrets = deps.secrets ?? createSecretsClient(config.aws);
    this.ownsRedis = deps.redis === undefined;
    this.staleOptions = deps.instancesStale ?? {};
    this.deadLetters = new DeadLetterQueue({ sqs: this.sqs, logger: this.logger, metrics: this.metrics });
    // A rotating password can only be read once start() may do I/O; otherwise connect now.
    if (deps.redis !== undefined || config.redis.passwordSecretId === undefined) {
      this.attachRedis(deps.redis ?? connectRedis(config.redis, WORKER_CONNECTION));
    }
  }

  private attachRedis(redis: RedisClient): void {
    this.redis = redis;
    redis.on('error', (error: Error) => this.logger.warn({ err: { name: error.name, message: error.message } }, 'redis connection error'));
    redis.on('ready', () => this.logger.info({ redis: describeRedisTarget(this.config.redis.url) }, 'redis ready'));
  }

  private get connection(): RedisClient {
    if (!this.redis) throw new Error('redis connection used before start()');
    return this.redis;
  }

  private get consumersRunning(): number {
    return this.consumers.filter((consumer) => consumer.status.isRunning).length;
  }

  get status(): WorkerStatus {
    const consumersRunning = this.consumersRunning;
    return {
      running: consumersRunning > 0 && consumersRunning === this.config.consumers,
      consumersRunning,
      consumersConfigured: this.config.consumers,
      redisReady: this.redis?.status === 'ready',
      inFlight: this.inFlight,
      reads: { ...(this.reads?.counts ?? { started: 0, shared: 0 }) },
      ...(this.health ? { healthPort: this.health.port } : {}),
    };
  }

  /**
   * Resolves once consuming (or as soon as `stop()` was called meanwhile). On failure everything
   * opened so far is closed before the error is rethrown.
   */
  async start(): Promise<void> {
    try {
      await this.startUp();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  private async startUp(): Promise<void> {
    const { config } = this;
    // First, before anything can stall start-up: an operator must see it even if Redis never comes.
    if (config.signing.keys.length === 0) this.logger.warn({ signed: false }, UNSIGNED_WARNING);
    this.health = await startHealthServer(config.healthHost, config.healthPort, {
      ready: () => {
        const running = this.consumersRunning;
        const checks = { consuming: running > 0 && running === config.consumers, redis: this.redis?.status === 'ready' };
        return { ready: checks.consuming && checks.redis, checks };
      },
    });
    const { redrivePolicy } = await checkQueue(this.sqs, config.queueUrl, this.logger);
    await this.deadLetters.resolve(redrivePolicy);
    if (!this.redis) {
      const rotating = await connectRotatingRedis(config, this.secrets, this.logger);
      this.passwordCache = rotating.cache;
      this.attachRedis(rotating.redis);
    }
    // Consuming before Redis is reachable would only bounce messages back to the queue.
    await this.waitForRedis();
    // A SIGTERM during start-up (say, while Redis was down) must not leave a consumer running.
    if (this.stopping) return;

    const reads = new SharedReads((secretId) => describeCurrentVersion(this.secrets, secretId));
    this.reads = reads;
    const publishOptions = { dedupeTtlSeconds: config.dedupeTtlSeconds };
    const handle = createMessageHandler({
      describe: (secretId, receipt) => reads.get(secretId, receipt),
      lastPublished: (secretArn) => readPublishedVersion(this.connection, config.redis.keyPrefix, secretArn),
      publish: (fields, confirmedBy) =>
        publishInvalidation(this.connection, config.redis.keyPrefix, signIfKeyed(createInvalidation(fields), config.signing.keys), {
          ...publishOptions,
          ...(confirmedBy ? { confirmedBy } : {}),
        }),
      ...(config.fastPublish
        ? {
            publishIfNewer: (fields, eventTime) =>
              publishIfNewer(this.connection, config.redis.keyPrefix, signIfKeyed(createInvalidation(fields), config.signing.keys), {
                ...publishOptions,
                eventTime,
                marginMs: config.fastPublishMarginMs,
              }),
          }
        : {}),
      metrics: this.metrics,
      logger: this.logger,
      confirmWindowMs: config.confirmWindowMs,
      confirmIntervalMs: config.confirmIntervalMs,
    });

    for (let index = 0; index < config.consumers; index += 1) this.consumers.push(this.createConsumer(index, handle, reads));
    for (const consumer of this.consumers) consumer.start();
    if (this.staleOptions !== false) {
      this.staleCheck = new InstancesStaleCheck(
        { redis: () => this.redis, keyPrefix: config.redis.keyPrefix, metrics: this.metrics, logger: this.logger },
        this.staleOptions,
      );
      this.staleCheck.start();
    }
    this.logger.info(
      {
        queueUrl: config.queueUrl,
        redis: describeRedisTarget(config.redis.url),
        healthPort: this.health.port,
        signed: config.signing.keys.length > 0,
        consumers: config.consumers,
        fastPublish: config.fastPublish,
      },
      'worker started',
    );
    this.emit('started');
  }

  /**
   * One receive loop. sqs-consumer handles one batch at a time per consumer, so several consumers
   * keep several batches in flight. Batches go through `handleMessageBatch` so that the handled
   * messages are deleted with one DeleteMessageBatch call; a message that failed transiently gets
   * its own backoff (ChangeMessageVisibilityBatch), and a rejected one is sent to the DLQ and
   * deleted with them (or, when that send fails, left for the redrive policy).
   */
  private createConsumer(index: number, handle: MessageHandler, reads: SharedReads<CurrentVersion>): Consumer {
    const { config } = this;
    this.consumerInFlight[index] = 0;
    const consumer = Consumer.create({
      queueUrl: config.queueUrl,
      sqs: this.sqs,
      batchSize: config.batchSize,
      waitTimeSeconds: config.waitTimeSeconds,
      visibilityTimeout: config.visibilityTimeoutSeconds,
      heartbeatInterval: Math.max(1, Math.floor(config.visibilityTimeoutSeconds / 2)),
      messageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      // Only when the batch as a whole fails (DeleteMessageBatch): the messages come back after a backoff.
      terminateVisibilityTimeout: (messages) => retryVisibilitySeconds(messages, config.visibilityTimeoutSeconds),
      pollingCompleteWaitTimeMs: config.shutdownTimeoutMs,
      useQueueUrlAsEndpoint: !config.aws.customSqsEndpoint,
      suppressFifoWarning: true,
      handleMessageBatch: async (messages) => {
        const receipt = reads.receive();
        const receivedAt = Date.now();
        this.inFlight += messages.length;
        this.consumerInFlight[index] = (this.consumerInFlight[index] ?? 0) + messages.length;
        try {
          const dispositions = await Promise.all(messages.map((message) => this.handleOne(handle, message, receivedAt, receipt)));
          const retry = messages.filter((_, i) => dispositions[i] === 'retry');
          if (retry.length > 0) await this.backOff(retry);
          return messages.filter((_, i) => dispositions[i] === 'ack');
        } finally {
          this.inFlight -= messages.length;
          this.consumerInFlight[index] = (this.consumerInFlight[index] ?? 0) - messages.length;
        }
      },
    });
    // Processing errors are handled per message; these are SQS-level errors (receive, delete).
    consumer.on('error', (error) => {
      // Stopping aborts the idle long polls: that is not an error worth an alert.
      if (this.stopping && /abort/i.test(error.message)) return;
      this.logger.error({ err: { name: error.name, message: error.message }, consumer: index }, 'sqs error');
    });
    consumer.on('processing_error', () => undefined);
    return consumer;
  }

  private async handleOne(handle: MessageHandler, message: Message, receivedAt: number, receipt: number): Promise<Disposition> {
    try {
      const outcome = await handle(
        { body: message.Body ?? '', messageId: message.MessageId ?? '', receivedAt, receipt },
        {
          decided: (decided, event) => {
            this.recordTimeline(decided, event, message, receivedAt);
            this.emit('outcome', decided, message);
          },
        },
      );
      if (outcome.kind === 'published' && outcome.correction) this.emit('corrected', outcome, message);
      if (outcome.kind === 'rejected') return await this.deadLetter(outcome.code, outcome.reason, message);
      return outcome.ack ? 'ack' : 'leave';
    } catch (error) {
      this.metrics.count('PublishErrors');
      const err = error instanceof Error ? error : new Error(String(error));
      this.logger.warn(
        // `cause`: what was under it (refused, a certificate error, an AWS error name), told safely.
        { messageId: message.MessageId, err: { name: err.name, code: (err as { code?: unknown }).code, message: err.message, cause: describeCause(err) } },
        'message failed; it stays on the queue and will be retried',
      );
      this.emit('retry', err, message);
      return 'retry';
    }
  }

  /**
   * A message that can never be published goes to the DLQ now rather than after maxReceiveCount
   * receives; deleted (acknowledged) only once the DLQ holds it. Never throws: a failed send
   * leaves it, as before, for the redrive policy.
   */
  private async deadLetter(code: RejectionCode, reason: string, message: Message): Promise<Disposition> {
    if (!(await this.deadLetters.send(message, { code, reason }))) return 'leave';
    this.emit('deadLettered', code, message);
    return 'ack';
  }

  /** Messages that failed transiently come back after 2, 4, 8 … s by their own receive count. */
  private async backOff(messages: Message[]): Promise<void> {
    const cap = this.config.visibilityTimeoutSeconds;
    try {
      const result = await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.config.queueUrl,
          Entries: messages.map((message, i) => ({
            Id: String(i),
            ReceiptHandle: message.ReceiptHandle,
            VisibilityTimeout: retryVisibilitySeconds([message], cap),
          })),
        }),
      );
      if (result.Failed && result.Failed.length > 0) {
        this.logger.warn({ failed: result.Failed.length }, 'could not shorten the visibility of failed messages; they return after the visibility timeout');
      }
    } catch (error) {
      // They come back after the visibility timeout anyway.
      this.logger.warn({ err: { name: error instanceof Error ? error.name : 'unknown' } }, 'could not shorten the visibility of failed messages; they return after the visibility timeout');
    }
  }

  /** Runs the `InstancesStale` check once now (tests, diagnostics); undefined when it is off or skipped. */
  async checkInstancesStale(): Promise<number | undefined> {
    return this.staleCheck?.check();
  }

  /**
   * Best effort, never delays or fails the message: when the event reached the worker and what
   * came of it, in `{P}:timeline:<secretArn>`, for `rotation-relay drill`. Uses the event as the
   * handler parsed it (no second parse).
   */
  private recordTimeline(outcome: MessageOutcome, event: RotationEvent | undefined, message: Message, receivedAt: number): void {
    if (outcome.kind !== 'published' && outcome.kind !== 'unchanged-version' && outcome.kind !== 'duplicate-event') return;
    const redis = this.redis;
    if (!redis) return;
    const sent = Number(message.Attributes?.SentTimestamp);
    const entry: TimelineEntry = {
      receivedAt,
      handledAt: Date.now(),
      ...(Number.isFinite(sent) && sent > 0 ? { enqueuedAt: sent } : {}),
      outcome: outcome.kind,
      ...('versionId' in outcome ? { versionId: outcome.versionId } : {}),
      ...(outcome.kind === 'published' ? { receivers: outcome.receivers } : {}),
      ...(event ? { eventName: event.eventName ?? event.detailType, ...(event.eventId ? { eventId: event.eventId } : {}), ...(event.eventTime ? { eventTime: event.eventTime } : {}) } : {}),
    };
    recordTimeline(redis, this.config.redis.keyPrefix, outcome.secretArn, entry).catch((error: unknown) => {
      this.logger.debug({ err: { name: error instanceof Error ? error.name : 'unknown' } }, 'timeline entry not recorded');
    });
  }

  private async waitForRedis(): Promise<void> {
    const stopRequested = new Promise<void>((resolve) => {
      this.onStopRequested = resolve;
    });
    // Say early that we are waiting (1 s), then every 5 s while Redis stays away.
    for (let attempt = 0; ; attempt += 1) {
      try {
        await Promise.race([waitForReady(this.connection, attempt === 0 ? 1_000 : 5_000), stopRequested]);
        return;
      } catch (error) {
        if (this.stopping) return;
        // Why it is not ready (refused, WRONGPASS, a certificate error): waiting alone fixes none of them.
        this.logger.warn({ redis: describeRedisTarget(this.config.redis.url), reason: describeCause(error) ?? 'no answer' }, 'waiting for redis before consuming');
      }
    }
  }

  /** Idempotent; resolves when everything is closed. */
  stop(): Promise<void> {
    this.onStopRequested?.();
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
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
    if (this.consumers.length > 0) this.emit('stopped');
    this.staleCheck?.stop();
    await this.health?.close();
    this.metrics.close();
    const redis = this.redis;
    if (this.ownsRedis && redis) await redis.quit().catch(() => redis.disconnect());
    await this.passwordCache?.stop();
    this.logger.info({}, 'worker stopped');
  }
}
