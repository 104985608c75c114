import { randomBytes } from 'node:crypto';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { loadWorkerConfig, type WorkerConfig } from '../../src/config/index.js';
import type { Invalidation } from '../../src/protocol/index.js';
import { InvalidationListener } from '../../src/sdk/cache/invalidation-listener.js';
import { RelayWorker } from '../../src/relay/worker/relay-worker.js';
import type { MessageOutcome } from '../../src/relay/worker/handle-message.js';
import { startFauxqs, type FauxqsHandle, type FauxqsQueue } from './fauxqs.js';
import { captureLogger, type CapturedLogger } from './log-capture.js';
import { registerSecretValue } from './leak-guard.js';
import { startMoto, type MotoHandle } from './moto-server.js';
import { MotoSecrets } from './moto-secrets.js';
import { startRedis, type RedisHandle } from './redis-server.js';
import { waitUntil } from './wait-until.js';

/** Collects what a running worker and a verifying listener saw, for poll-until assertions. */
export interface Observed {
  outcomes: MessageOutcome[];
  invalidations: Invalidation[];
}

/**
 * Everything a worker integration test needs, on real services started here: a private
 * redis-server, moto_server for Secrets Manager and fauxqs as the SQS queue (with a DLQ).
 */
export class RelayFixture {
  readonly signingKeys = [randomBytes(32).toString('base64url')];
  readonly secrets: MotoSecrets;
  readonly sqs: SQSClient;
  readonly logs: CapturedLogger = captureLogger({ component: 'worker' });
  private readonly workers: RelayWorker[] = [];
  private readonly listeners: InvalidationListener[] = [];
  private counter = 0;
  /** Every secret this fixture created, with every value each held: the leak scan's list. */
  readonly created: Array<Awaited<ReturnType<MotoSecrets['create']>>> = [];

  private constructor(
    readonly moto: MotoHandle,
    readonly redis: RedisHandle,
    readonly fauxqs: FauxqsHandle,
    readonly queue: FauxqsQueue,
  ) {
    this.secrets = new MotoSecrets(moto);
    for (const key of this.signingKeys) registerSecretValue(key, 'RelayFixture signing key');
    this.sqs = new SQSClient({ endpoint: fauxqs.endpoint, region: fauxqs.region, credentials: { ...fauxqs.credentials } });
  }

  static async start(options: { maxReceiveCount?: number; visibilityTimeoutSeconds?: number } = {}): Promise<RelayFixture> {
    const [moto, redis, fauxqs] = await Promise.all([startMoto(), startRedis(), startFauxqs()]);
    const queue = await fauxqs.createQueue('rotation-relay', {
      dlq: { maxReceiveCount: options.maxReceiveCount ?? 3 },
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 2,
    });
    return new RelayFixture(moto, redis, fauxqs, queue);
  }

  /** Worker settings for this fixture; short timeouts so retries happen within a test. */
  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      AWS_REGION: this.moto.region,
      ROTATION_RELAY_QUEUE_URL: this.queue.queueUrl,
      ROTATION_RELAY_REDIS_URL: this.redis.url,
      ROTATION_RELAY_SIGNING_KEYS: this.signingKeys.join(','),
      ROTATION_RELAY_WAIT_TIME_SECONDS: '1',
      ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS: '2',
      ROTATION_RELAY_CONFIRM_WINDOW_MS: '1000',
      ROTATION_RELAY_CONFIRM_INTERVAL_MS: '50',
      ROTATION_RELAY_HEALTH_PORT: '0',
      ROTATION_RELAY_HEALTH_HOST: '127.0.0.1',
      ROTATION_RELAY_SHUTDOWN_TIMEOUT_MS: '5000',
      ...overrides,
    };
  }

  config(overrides: Record<string, string> = {}): WorkerConfig {
    return { ...loadWorkerConfig(this.env(overrides)), aws: { region: this.moto.region, customSqsEndpoint: true } };
  }

  /** An in-process worker with its SQS client on fauxqs and its Secrets Manager client on moto. */
  async startWorker(overrides: Record<string, string> = {}): Promise<{ worker: RelayWorker; outcomes: MessageOutcome[] }> {
    const worker = new RelayWorker(this.config(overrides), { sqs: this.sqs, secrets: this.secrets.client, logger: this.logs.logger });
    const outcomes: MessageOutcome[] = [];
    worker.on('outcome', (outcome) => outcomes.push(outcome));
    this.workers.push(worker);
    await worker.start();
    return { worker, outcomes };
  }

  /** A verifying subscriber, as an app instance would run it. */
  async listen(): Promise<Invalidation[]> {
    const listener = new InvalidationListener({
      redis: { url: this.redis.url, cluster: false, keyPrefix: 'rotation-relay' },
      signingKeys: this.signingKeys,
    });
    const received: Invalidation[] = [];
    listener.on('invalidation', (invalidation) => received.push(invalidation));
    this.listeners.push(listener);
    await listener.start();
    return received;
  }

  /** A unique secret name per call, so tests in one file never collide. */
  async createSecret(prefix = 'app/db'): Promise<Awaited<ReturnType<MotoSecrets['create']>>> {
    this.counter += 1;
    const secret = await this.secrets.create(`${prefix}-${this.counter}-${randomBytes(3).toString('hex')}`);
    this.created.push(secret);
    return secret;
  }

  async send(body: unknown): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({ QueueUrl: this.queue.queueUrl, MessageBody: typeof body === 'string' ? body : JSON.stringify(body) }),
    );
  }

  /** Secret values that appear in anything the worker logged (must stay empty). */
  leakedValues(): string[] {
    const text = this.logs.lines().join('\n');
    return this.created.flatMap((secret) => secret.values).filter((value) => text.includes(value) || text.includes(JSON.parse(value).password));
  }

  async until(predicate: () => boolean | Promise<boolean>, message: string, timeoutMs = 15_000): Promise<void> {
    await waitUntil(predicate, { message, timeoutMs });
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.workers.map((worker) => worker.stop()));
    await Promise.allSettled(this.listeners.map((listener) => listener.stop()));
    this.sqs.destroy();
    this.secrets.client.destroy();
    await Promise.allSettled([this.moto.stop(), this.redis.stop(), this.fauxqs.stop()]);
  }
}
