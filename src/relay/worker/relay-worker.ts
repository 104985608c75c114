import { EventEmitter } from 'node:events';
import { SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { assertSigningChosen, UNSIGNED_WARNING, type WorkerConfig } from '../../config/index.js';
import { createLogger, type PinoLogger, describeCause, describeError, type RedisClient } from '../../common/index.js';
import { MetricsEmitter, NoopMetrics, type Metrics } from '../../metrics/index.js';
import { connectRedis, describeRedisTarget, waitForReady } from '../../redis/index.js';
import { connectRotatingRedis, WORKER_CONNECTION } from './rotating-redis.js';
import type { CredentialCache } from '../../sdk/cache/index.js';
import { createSecretsClient, describeCurrentVersion, SDK_CLIENT_SETTINGS, type CurrentVersion } from '../../secrets/index.js';
import { createMessageHandler, type MessageOutcome } from './handle-message.js';
import { startHealthServer, type HealthServer } from './health-server.js';
import { checkQueue } from './queue-check.js';
import { DeadLetterQueue, type RejectionCode } from './dead-letter.js';
import { SharedReads } from './shared-reads.js';
import { InstancesStaleCheck, type InstancesStaleOptions } from './instances-stale.js';
import { createRedisPublisher } from './redis-publisher.js';
import { recordMessageTimeline } from './message-timeline.js';
import { SqsIntake } from './sqs-intake.js';

export interface WorkerDeps {
  /** Pass clients to share them or point them at an emulator; built from config otherwise. */
  sqs?: SQSClient;
  secrets?: SecretsManagerClient;
  redis?: RedisClient;
  logger?: PinoLogger;
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

/**
 * The relay: SQS → parse → confirm with DescribeSecret → one signed PUBLISH per change.
 * Lifecycle: `start()` connects Redis, checks the queue, serves health and starts consuming;
 * `stop()` stops receiving, lets in-flight messages finish (bounded by the shutdown timeout),
 * then closes everything. What it does not finish returns to the queue.
 */
export class RelayWorker extends EventEmitter<WorkerEvents> {
  readonly logger: PinoLogger;
  private readonly metrics: Metrics;
  private readonly sqs: SQSClient;
  private readonly secrets: SecretsManagerClient;
  private redis: RedisClient | undefined;
  private readonly ownsRedis: boolean;
  /** Follows the Redis password's own secret, when ROTATION_RELAY_REDIS_PASSWORD_SECRET_ID is set. */
  private passwordCache?: CredentialCache;
  /** The queue side (receive loops, deletes, backoff, DLQ hand-off), once start() got that far. */
  private intake?: SqsIntake;
  private reads?: SharedReads<CurrentVersion>;
  private readonly deadLetters: DeadLetterQueue;
  private health?: HealthServer;
  private staleCheck?: InstancesStaleCheck;
  private readonly staleOptions: InstancesStaleOptions | false;
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
    redis.on('error', (error: Error) => this.logger.warn({ err: { name: error.name, message: describeError(error) } }, 'redis connection error'));
    redis.on('ready', () => this.logger.info({ redis: describeRedisTarget(this.config.redis.url) }, 'redis ready'));
  }

  private get connection(): RedisClient {
    if (!this.redis) throw new Error('redis connection used before start()');
    return this.redis;
  }

  private get consumersRunning(): number {
    return this.intake?.running ?? 0;
  }

  get status(): WorkerStatus {
    const consumersRunning = this.consumersRunning;
    return {
      running: consumersRunning > 0 && consumersRunning === this.config.consumers,
      consumersRunning,
      consumersConfigured: this.config.consumers,
      redisReady: this.redis?.status === 'ready',
      inFlight: this.intake?.inFlight ?? 0,
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
    const handle = createMessageHandler({
      describe: (secretId, receipt) => reads.get(secretId, receipt),
      ...createRedisPublisher(config, () => this.connection),
      metrics: this.metrics,
      logger: this.logger,
      confirmWindowMs: config.confirmWindowMs,
      confirmIntervalMs: config.confirmIntervalMs,
    });

    const timeline = { redis: () => this.redis, keyPrefix: config.redis.keyPrefix, logger: this.logger };
    this.intake = new SqsIntake(
      {
        queueUrl: config.queueUrl,
        consumers: config.consumers,
        batchSize: config.batchSize,
        waitTimeSeconds: config.waitTimeSeconds,
        visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        useQueueUrlAsEndpoint: !config.aws.customSqsEndpoint,
      },
      {
        sqs: this.sqs,
        logger: this.logger,
        metrics: this.metrics,
        deadLetters: this.deadLetters,
        receive: () => reads.receive(),
        // What the intake hands over, the handler gets as plain fields; what it decides is told
        // (events, timeline) as soon as it is known, before the intake deletes the message.
        handle: async (message, { receivedAt, receipt }) => {
          const outcome = await handle(
            { body: message.Body ?? '', messageId: message.MessageId ?? '', receivedAt, receipt },
            {
              decided: (decided, event) => {
                recordMessageTimeline(timeline, decided, event, message, receivedAt);
                this.emit('outcome', decided, message);
              },
            },
          );
          if (outcome.kind === 'published' && outcome.correction) this.emit('corrected', outcome, message);
          return outcome;
        },
        retried: (error, message) => this.emit('retry', error, message),
        deadLettered: (code, message) => this.emit('deadLettered', code, message),
      },
    );
    this.intake.start();
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

  /** Runs the `InstancesStale` check once now (tests, diagnostics); undefined when it is off or skipped. */
  async checkInstancesStale(): Promise<number | undefined> {
    return this.staleCheck?.check();
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
    if (this.intake) {
      // Lets in-flight messages finish (and be deleted) first, bounded by the shutdown timeout.
      await this.intake.stop();
      // `stopped` follows `started`; a hand-built config with no consumer never started any.
      if (this.config.consumers > 0) this.emit('stopped');
    }
    this.staleCheck?.stop();
    await this.health?.close();
    this.metrics.close();
    const redis = this.redis;
    if (this.ownsRedis && redis) await redis.quit().catch(() => redis.disconnect());
    await this.passwordCache?.stop();
    this.logger.info({}, 'worker stopped');
  }
}
