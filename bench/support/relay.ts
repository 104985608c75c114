/**
 * The relay half of a benchmark, on real local services the way the tests start them: a private
 * redis-server (with room for a large fleet's connections), fauxqs as the SQS queue (+ DLQ) in
 * this process, and the real RelayWorker in this process with its Secrets Manager client pointed
 * wherever the scenario says (the latency double or moto_server).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Redis } from 'ioredis';
import { loadWorkerConfig, type WorkerConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/common/logger.js';
import type { RedisClient } from '../../src/common/index.js';
import { RelayWorker } from '../../src/relay/worker/relay-worker.js';
import type { MessageOutcome } from '../../src/relay/worker/handle-message.js';
import { startFauxqs, type FauxqsHandle, type FauxqsQueue } from '../../test/support/fauxqs.js';
import { startRedis, type RedisHandle } from '../../test/support/redis-server.js';

/** Each subscriber holds two connections (pub/sub + versions); this leaves room for 500 and more. */
export const REDIS_MAX_CLIENTS = 4096;

export interface Relay {
  redis: RedisHandle;
  fauxqs: FauxqsHandle;
  /** The queue of the most recently started worker (each worker gets a fresh one, see startWorker). */
  readonly queue: FauxqsQueue;
  sqs: SQSClient;
  signingKeys: string[];
  /** Worker settings as environment variables (for a worker run as its own process). */
  env(overrides?: Record<string, string>): Record<string, string>;
  /**
   * An in-process worker on a fresh queue. Fresh because a stopped worker's aborted long poll stays
   * registered in fauxqs and would swallow the next message for a visibility timeout.
   */
  startWorker(secrets: SecretsManagerClient, onOutcome?: (outcome: MessageOutcome) => void, deps?: { redis?: RedisClient }): Promise<RelayWorker>;
  /** The worker configuration `startWorker` uses (from `env()`, SQS at fauxqs). */
  workerConfig(): WorkerConfig;
  /** A fresh queue for a worker run as its own process; `env()` points at it from now on. */
  newQueue(): Promise<FauxqsQueue>;
  send(body: unknown): Promise<void>;
  /** Many bodies, 10 per SendMessageBatch, `parallel` batches at a time. */
  sendMany(bodies: unknown[], parallel?: number): Promise<void>;
  /** The fd limit and redis-server's maxclients, checked against the connections a fleet needs. */
  checkCapacity(connections: number): Promise<{ maxclients: number; fdLimit: number }>;
  stop(): Promise<void>;
}

export async function startRelay(): Promise<Relay> {
  const [redis, fauxqs] = await Promise.all([startRedis({ extraArgs: ['--maxclients', String(REDIS_MAX_CLIENTS)] }), startFauxqs()]);
  let queues = 0;
  const createQueue = (): Promise<FauxqsQueue> => fauxqs.createQueue(`rotation-relay-bench-${(queues += 1)}`, { dlq: { maxReceiveCount: 3 }, visibilityTimeoutSeconds: 10 });
  let queue = await createQueue();
  const sqs = new SQSClient({ endpoint: fauxqs.endpoint, region: fauxqs.region, credentials: { ...fauxqs.credentials } });
  const signingKeys = [randomBytes(32).toString('base64url')];
  const workers: RelayWorker[] = [];

  const env = (overrides: Record<string, string> = {}): Record<string, string> => ({
    AWS_REGION: fauxqs.region,
    ROTATION_RELAY_QUEUE_URL: queue.queueUrl,
    ROTATION_RELAY_REDIS_URL: redis.url,
    ROTATION_RELAY_SIGNING_KEYS: signingKeys.join(','),
    ROTATION_RELAY_WAIT_TIME_SECONDS: '10',
    ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS: '10',
    ROTATION_RELAY_CONFIRM_WINDOW_MS: '1000',
    ROTATION_RELAY_CONFIRM_INTERVAL_MS: '50',
    ROTATION_RELAY_HEALTH_PORT: '0',
    ROTATION_RELAY_HEALTH_HOST: '127.0.0.1',
    ROTATION_RELAY_SHUTDOWN_TIMEOUT_MS: '5000',
    ROTATION_RELAY_METRICS: 'false',
    ROTATION_RELAY_LOG_LEVEL: 'warn',
    ...overrides,
  });
  const config = (): WorkerConfig => ({ ...loadWorkerConfig(env()), aws: { region: fauxqs.region, customSqsEndpoint: true } });

  return {
    redis,
    fauxqs,
    get queue() {
      return queue;
    },
    sqs,
    signingKeys,
    env,
    async newQueue() {
      queue = await createQueue();
      return queue;
    },
    workerConfig: () => config(),
    async startWorker(secrets, onOutcome, deps = {}) {
      if (workers.length > 0) queue = await createQueue();
      const worker = new RelayWorker(config(), { sqs, secrets, ...deps, logger: createLogger({ level: 'warn', base: { component: 'worker' }, destination: process.stderr }) });
      if (onOutcome) worker.on('outcome', (outcome) => onOutcome(outcome));
      workers.push(worker);
      await worker.start();
      return worker;
    },
    async send(body) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: typeof body === 'string' ? body : JSON.stringify(body) }));
    },
    async sendMany(bodies, parallel = 16) {
      const batches: unknown[][] = [];
      for (let i = 0; i < bodies.length; i += 10) batches.push(bodies.slice(i, i + 10));
      let next = 0;
      const lane = async (): Promise<void> => {
        for (let i = next++; i < batches.length; i = next++) {
          const entries = (batches[i] ?? []).map((body, j) => ({ Id: String(j), MessageBody: typeof body === 'string' ? body : JSON.stringify(body) }));
          const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.queueUrl, Entries: entries }));
          if (result.Failed && result.Failed.length > 0) throw new Error(`SendMessageBatch: ${result.Failed.length} entries failed`);
        }
      };
      await Promise.all(Array.from({ length: parallel }, lane));
    },
    async checkCapacity(connections) {
      const admin = new Redis(redis.url);
      try {
        const [, value] = (await admin.config('GET', 'maxclients')) as [string, string];
        const maxclients = Number(value);
        const fdLimit = openFileLimit();
        if (maxclients < connections) throw new Error(`redis-server maxclients is ${maxclients}, the fleet needs ${connections} connections`);
        if (fdLimit > 0 && fdLimit < connections + 64) {
          throw new Error(`the open-file limit (ulimit -n) is ${fdLimit}; redis-server needs about ${connections + 64}: raise it with \`ulimit -n 8192\``);
        }
        return { maxclients, fdLimit };
      } finally {
        admin.disconnect();
      }
    },
    async stop() {
      await Promise.allSettled(workers.map((worker) => worker.stop()));
      sqs.destroy();
      await Promise.allSettled([redis.stop(), fauxqs.stop()]);
    },
  };
}

/** `ulimit -n` of this process (children and redis-server inherit it); 0 when unknown (not Linux). */
export function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined ? 0 : soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return 0;
  }
}
