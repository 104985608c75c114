import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocolKeys, readPublishedVersions } from '../../../src/protocol/index.js';
import { runCliProcess, runTsProcess, type CliProcess } from '../../support/cli-process.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { labelUpdatedEvent, moveCurrentEvent, putPendingEvent, rotationSucceededEvent } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';
import { cpuSeconds, rssMb, slopeMbPerMinute } from '../../support/load/process-stats.js';
import type { FleetConfig } from '../../support/load/subscriber-fleet.js';

/** Sizes: the reduced defaults run in every `npm test`; `npm run test:load` sets the full ones. */
const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${process.env[name]}`);
  return value;
};
const SIZE = {
  subscribers: env('LOAD_SUBSCRIBERS', 200),
  eventsPerSecond: env('LOAD_EVENTS_PER_SECOND', 200),
  seconds: env('LOAD_SECONDS', 10),
  /** Worker replicas consuming the queue (each its own process). */
  workers: env('LOAD_WORKERS', 1),
  /**
   * Rotations of each secret, spread evenly over the run (one pass over all secrets per round), so
   * a subscriber must end on the *last* version, not merely receive one. Under a backlog, events of
   * a rotation are handled after the next one happened: superseded events (superseded-events.test.ts).
   */
  rotationsPerSecret: env('LOAD_ROTATIONS_PER_SECRET', 2),
  describeDelayMs: Number(process.env.LOAD_DESCRIBE_DELAY_MS ?? 2),
};
const FLEETS = env('LOAD_FLEET_PROCESSES', Math.max(1, Math.ceil(SIZE.subscribers / 500)));
/** One rotation produces 4 events (PutSecretValue AWSPENDING, UpdateSecretVersionStage, RotationSucceeded, Secret Label Updated). */
const EVENTS_PER_ROTATION = 4;
const ROTATIONS_PER_SECOND = SIZE.eventsPerSecond / EVENTS_PER_ROTATION;
const ROTATIONS = Math.round(ROTATIONS_PER_SECOND * SIZE.seconds);
/** One pass over all secrets per rotation round. */
const SECRETS = Math.ceil(ROTATIONS / SIZE.rotationsPerSecret);
const PREFIX = 'rotation-relay';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DOUBLE = `${ROOT}test/support/secrets-manager-double.ts`;
const FLEET = fileURLToPath(new URL('../../support/load/subscriber-fleet.ts', import.meta.url));
const QUEUE = fileURLToPath(new URL('../../support/load/fauxqs-process.ts', import.meta.url));

/**
 * Load: SIZE.subscribers subscriber connections on one Redis (raw ioredis subscribers verifying
 * every message, spread over FLEETS processes) and SIZE.eventsPerSecond events/s for SIZE.seconds
 * through the real worker (its own process): fauxqs as SQS, the latency-modelling Secrets Manager
 * double of test/support as DescribeSecret (moto answers ~300 req/s; this is about the worker).
 * Every event is a real rotation's event: each rotation moves AWSCURRENT in the double and sends
 * its four events, so one in four publishes and the rest are ignored or deduplicated.
 *
 * Asserts that nothing is lost — every subscriber ends on the final version of every secret, and
 * the versions hash holds them — and reports the worker's RSS over time with its slope.
 */
describe(`load: ${SIZE.subscribers} subscribers, ${SIZE.eventsPerSecond} events/s for ${SIZE.seconds} s through the real worker`, () => {
  let redis: RedisHandle;
  let queue: { endpoint: string; queueUrl: string };
  let sqs: SQSClient;
  let double: CliProcess;
  let endpoint: string;
  let admin: Redis;
  const children: CliProcess[] = [];
  const signingKey = randomBytes(32).toString('base64url');
  registerSecretValue(signingKey, 'load test signing key');

  beforeAll(async () => {
    double = runTsProcess(DOUBLE, ['--delay-ms', String(SIZE.describeDelayMs)], {}, 'secrets-manager-double');
    const fauxqs = runTsProcess(QUEUE, [], {}, 'fauxqs');
    children.push(double, fauxqs);
    // Room for far more subscribers than the default 10,000 clients, so the limit is never what a
    // bigger LOAD_SUBSCRIBERS measures.
    redis = await startRedis({ extraArgs: ['--maxclients', '20000'] });
    admin = new Redis(redis.url);
    queue = JSON.parse(await fauxqs.waitForLine('stdout', (line) => line.includes('"listening"'), 'fauxqs to listen', 20_000)) as typeof queue;
    sqs = new SQSClient({ endpoint: queue.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const listening = await double.waitForLine('stdout', (line) => line.includes('"listening"'), 'the Secrets Manager double to listen', 20_000);
    endpoint = (JSON.parse(listening) as { endpoint: string }).endpoint;
  }, 60_000);

  afterAll(async () => {
    for (const child of children) child.signal('SIGTERM');
    await Promise.allSettled(children.map((child) => child.exited));
    admin?.disconnect();
    sqs?.destroy();
    await redis?.stop();
  });

  /** One call to the double, without the SDK (it checks no signature): the driver stays cheap. */
  async function secretsManager(operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `secretsmanager.${operation}` },
      body: JSON.stringify(input),
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(`${operation} answered ${response.status} ${String(body['__type'])}`);
    return body;
  }

  const versionId = (sequence: number, secret: number) => `v${sequence}-s${secret}-${randomBytes(4).toString('hex')}`;
  const secretValue = (label: string) => {
    const value = JSON.stringify({ username: 'app', password: `pw-${randomBytes(12).toString('hex')}` });
    registerSecretValue(value, label);
    return value;
  };

  async function queueDepth(): Promise<number> {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queue.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  it('loses no invalidation, and the worker\u2019s RSS stays flat', { timeout: SIZE.seconds * 1_000 + 900_000 }, async () => {
    // Prepare: the secrets, the subscriber fleets, the worker.
    const arns: string[] = [];
    const current: string[] = [];
    for (let from = 0; from < SECRETS; from += 200) {
      const created = await Promise.all(
        Array.from({ length: Math.min(200, SECRETS - from) }, async (_, i) => {
          const index = from + i;
          const initial = versionId(0, index);
          const answer = await secretsManager('CreateSecret', { Name: `load/s${index}`, SecretString: secretValue(`load secret ${index}`), ClientRequestToken: initial });
          return [String(answer['ARN']), initial] as const;
        }),
      );
      for (const [arn, initial] of created) {
        arns.push(arn);
        current.push(initial);
      }
    }
    const perFleet = Math.ceil(SIZE.subscribers / FLEETS);
    const fleets = Array.from({ length: FLEETS }, (_, i) => {
      const config: FleetConfig = {
        redisUrl: redis.url,
        keyPrefix: PREFIX,
        signingKeys: [signingKey],
        subscribers: Math.min(perFleet, SIZE.subscribers - i * perFleet),
        secrets: SECRETS,
        name: `fleet-${i}`,
      };
      const child = runTsProcess(FLEET, [], { FLEET_CONFIG: JSON.stringify(config) }, `subscriber fleet ${i}`);
      children.push(child);
      return child;
    });
    await Promise.all(fleets.map((fleet) => fleet.waitForLine('stdout', (line) => line.includes('"ready"'), 'the subscriber fleet to subscribe', 60_000)));
    const [, numsub] = (await admin.call('PUBSUB', 'NUMSUB', protocolKeys(PREFIX).channel)) as [string, number];
    expect(numsub).toBe(SIZE.subscribers);

    const workers = Array.from({ length: SIZE.workers }, () => {
      const worker = runCliProcess(['worker'], {
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_ENDPOINT_URL_SQS: queue.endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
        ROTATION_RELAY_QUEUE_URL: queue.queueUrl,
        ROTATION_RELAY_REDIS_URL: redis.url,
        ROTATION_RELAY_SIGNING_KEYS: signingKey,
        ROTATION_RELAY_WAIT_TIME_SECONDS: '1',
        ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS: '30',
        ROTATION_RELAY_HEALTH_PORT: '0',
        ROTATION_RELAY_HEALTH_HOST: '127.0.0.1',
        // Per-event info lines at 1,000 events/s would measure pino, not the relay.
        ROTATION_RELAY_LOG_LEVEL: 'warn',
        ROTATION_RELAY_METRICS: 'false',
      });
      children.push(worker);
      return worker;
    });
    const pids = workers.map((worker) => worker.child.pid ?? 0);
    await waitUntil(async () => (String(await admin.call('CLIENT', 'LIST')).match(/name=rotation-relay:worker/g) ?? []).length === SIZE.workers, {
      message: 'every worker to connect to Redis',
      timeoutMs: 30_000,
    });

    // Act: rotations at the target rate, each followed by its four events.
    const rss: Array<Array<{ at: number; mb: number }>> = pids.map(() => []);
    const backlog: Array<{ at: number; depth: number }> = [];
    const cpuAtStart = pids.map(cpuSeconds);
    const loadAtStart = loadavg()[0] ?? Number.NaN;
    const startedAt = performance.now();
    const sampler = setInterval(() => {
      const at = (performance.now() - startedAt) / 1_000;
      pids.forEach((pid, i) => rss[i]?.push({ at, mb: rssMb(pid) }));
      queueDepth().then(
        (depth) => backlog.push({ at, depth }),
        () => undefined,
      );
      if (process.env.LOAD_PROGRESS) process.stdout.write(`[load progress] t=${at.toFixed(0)}s sent=${sent} backlog=${backlog.at(-1)?.depth} rss=${rss.map((r) => r.at(-1)?.mb.toFixed(1)).join('/')}MB\n`);
    }, 1_000);
    let sent = 0;
    let pending: Array<Record<string, unknown>> = [];
    const flush = async (): Promise<void> => {
      const batches: Array<Array<Record<string, unknown>>> = [];
      for (let i = 0; i < pending.length; i += 10) batches.push(pending.slice(i, i + 10));
      pending = [];
      await Promise.all(
        batches.map((batch) =>
          sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.queueUrl, Entries: batch.map((event, i) => ({ Id: `e${i}`, MessageBody: JSON.stringify(event) })) })),
        ),
      );
      sent += batches.reduce((n, batch) => n + batch.length, 0);
    };
    const rotate = async (rotation: number): Promise<void> => {
      const secret = rotation % SECRETS;
      const arn = arns[secret] ?? '';
      const previous = current[secret] ?? '';
      const next = versionId(Math.floor(rotation / SECRETS) + 1, secret);
      current[secret] = next;
      // One call moves AWSCURRENT (as a plain PutSecretValue does); the events are those of a
      // rotation Lambda's run, which end in the same state. Half the driver's calls, same worker work.
      await secretsManager('PutSecretValue', { SecretId: arn, SecretString: secretValue(`load secret ${secret}`), ClientRequestToken: next, VersionStages: ['AWSCURRENT'] });
      pending.push(putPendingEvent(arn, next), moveCurrentEvent(arn, next, previous), rotationSucceededEvent(arn), labelUpdatedEvent(arn, next));
    };
    // Open loop at the target rate, at most MAX_IN_FLIGHT rotations at a time: when the machine
    // cannot keep up, the achieved rate (reported) falls instead of bursts piling up.
    const MAX_IN_FLIGHT = 100;
    for (let next = 0; next < ROTATIONS; ) {
      const due = Math.min(ROTATIONS, next + MAX_IN_FLIGHT, Math.floor(((performance.now() - startedAt) / 1_000) * ROTATIONS_PER_SECOND) + 1);
      const rotations: number[] = [];
      for (; next < due; next += 1) rotations.push(next);
      await Promise.all(rotations.map(rotate));
      await flush();
      // Pacing of the load generator (the modelled event rate), not synchronisation.
      if (next < Math.floor(((performance.now() - startedAt) / 1_000) * ROTATIONS_PER_SECOND)) continue;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const windowSeconds = (performance.now() - startedAt) / 1_000;
    const leftAtEnd = await queueDepth();
    // The backlog may take a while on a slow machine; what must not happen is a stall.
    for (let depth = leftAtEnd; depth > 0; ) {
      const before = depth;
      await waitUntil(async () => (depth = await queueDepth()) < before, { message: `the backlog (${before}) to shrink within 60 s`, timeoutMs: 60_000, intervalMs: 250 });
    }
    const drainSeconds = (performance.now() - startedAt) / 1_000 - windowSeconds;
    clearInterval(sampler);
    const workerCpuSeconds = pids.map((pid, i) => cpuSeconds(pid) - (cpuAtStart[i] ?? 0));

    // Assess: the versions hash and every subscriber hold every final version.
    const published = await readPublishedVersions(admin, PREFIX);
    const stale = arns.filter((arn, secret) => published.get(arn)?.versionId !== current[secret]);
    expect(stale).toEqual([]);
    const finals = current.map((version) => Number(/^v(\d+)-/.exec(version)?.[1]));
    const checks = await Promise.all(
      fleets.map(async (fleet) => {
        fleet.child.stdin?.write(`${JSON.stringify({ type: 'check', finals })}\n`);
        const line = await fleet.waitForLine('stdout', (l) => l.includes('"type":"check"'), 'the fleet to check its subscribers', 60_000);
        return JSON.parse(line) as { subscribers: number; checked: number; lost: number; subscribersMissing: number; examples: unknown[]; received: number; rejected: number };
      }),
    );
    const lost = checks.reduce((n, check) => n + check.lost, 0);
    const received = checks.reduce((n, check) => n + check.received, 0);
    // The first quarter of the window is warm-up (JIT, connection pools, heap growth). The busy
    // period runs on until the backlog is drained: the workers work flat out all along.
    const afterWarmUp = (samples: Array<{ at: number; mb: number }>, until: number) => samples.filter((sample) => sample.at >= windowSeconds * 0.25 && sample.at <= until);
    const slopes = rss.map((samples) => slopeMbPerMinute(afterWarmUp(samples, windowSeconds)));
    const busySlopes = rss.map((samples) => slopeMbPerMinute(afterWarmUp(samples, Number.POSITIVE_INFINITY)));
    const maxRss = rss.map((samples) => Math.max(...samples.map((sample) => sample.mb).filter(Number.isFinite)));
    const summary = {
      subscribers: SIZE.subscribers,
      fleetProcesses: FLEETS,
      secrets: SECRETS,
      rotations: ROTATIONS,
      rotationsPerSecret: SIZE.rotationsPerSecret,
      eventsSent: sent,
      targetEventsPerSecond: SIZE.eventsPerSecond,
      sentEventsPerSecond: round(sent / windowSeconds),
      handledEventsPerSecond: round((sent - leftAtEnd) / windowSeconds),
      drainSecondsAfterWindow: round(drainSeconds),
      broadcastsPerSubscriber: round(received / SIZE.subscribers),
      messagesDelivered: received,
      rejected: checks.reduce((n, check) => n + check.rejected, 0),
      lost,
      workers: SIZE.workers,
      workerRssMb: rss.map((samples) => ({
        start: round(samples[0]?.mb ?? Number.NaN),
        end: round(samples.at(-1)?.mb ?? Number.NaN),
        max: round(Math.max(...samples.map((sample) => sample.mb))),
      })),
      workerRssSlopeMbPerMinute: { window: slopes.map(round), busyPeriod: busySlopes.map(round), busyPeriodSeconds: round(windowSeconds * 0.75 + drainSeconds) },
      workerCpuSeconds: workerCpuSeconds.map(round),
      workerCpuMsPerEvent: round((workerCpuSeconds.reduce((a, b) => a + b, 0) * 1_000) / sent),
      machineLoadAverage: { atStart: round(loadAtStart), atEnd: round(loadavg()[0] ?? Number.NaN), cpus: cpus().length },
      backlogEvery5s: backlog.filter((_, i) => i % 5 === 4).map((b) => b.depth),
    };
    process.stdout.write(`[load] ${JSON.stringify(summary)}\n`);
    for (const check of checks) expect(check, JSON.stringify(check.examples)).toMatchObject({ lost: 0, subscribersMissing: 0, rejected: 0 });
    expect(checks.reduce((n, check) => n + check.subscribers, 0)).toBe(SIZE.subscribers);
    expect(sent).toBe(ROTATIONS * EVENTS_PER_ROTATION);
    // Bounded: a worker that kept per-event state (a few KB each) would pass this within a full run.
    // The slope is reported, not asserted: over a minute it mostly shows V8 growing its heap.
    for (const max of maxRss) expect(max).toBeLessThan(384);
    for (const worker of workers) worker.signal('SIGTERM');
    expect(await Promise.all(workers.map((worker) => worker.exited))).toEqual(workers.map(() => 0));
  });
});

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
