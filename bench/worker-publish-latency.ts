/**
 * Worker latency from SQS receive to PUBLISH (the `PublishLatencyMs` metric), on real local
 * services: fauxqs (in-process SQS), moto_server (DescribeSecret) and a private redis-server.
 * One event at a time, each after the previous one was published: the latency of an idle worker
 * picking up a rotation, not of a queue backlog (bench/worker.ts measures the backlog).
 *
 * With `--delay-ms N`, Secrets Manager is the latency double instead (DescribeSecret answered
 * after N ms, as in the propagation bench), and the figure also includes enqueue → PUBLISH (the
 * propagation bench's "worker's share"). `--fast-publish true` turns ROTATION_RELAY_FAST_PUBLISH
 * on, to compare the two paths under the same load.
 *
 * On the double, the SQS floor follows in the same run: bare sqs-consumer loops (the worker's
 * package, bench/support/bare-consumer.ts) with the worker's receive settings (consumers, batch
 * size, wait time, visibility: the same config) on a fresh queue of the same fauxqs, in this
 * process as the worker was, get the same number of events one at a time; enqueue → the batch
 * handler's call (where the worker stamps `receivedAt`) is what any consumer of the queue pays
 * before the worker's own work starts. The handler only acknowledges the message.
 *
 * Usage: tsx bench/worker-publish-latency.ts [--quick] [--events N] [--delay-ms N] [--fast-publish true|false] [--out FILE]
 */
import { randomUUID } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loadWorkerConfig } from '../src/config/index.js';
import { createLogger } from '../src/common/logger.js';
import { MetricsRecorderDouble } from '../test/support/metrics-recorder-double.js';
import { MotoSecrets } from '../test/support/moto-secrets.js';
import type { MotoHandle } from '../test/support/moto-server.js';
import { RelayFixture } from '../test/support/relay-fixture.js';
import { labelUpdatedEvent } from '../test/support/rotation-events.js';
import { RelayWorker } from '../src/relay/worker/relay-worker.js';
import type { MessageOutcome } from '../src/relay/worker/handle-message.js';
import { bareConsumerSettings, consumerOptions, createBareConsumers, sqsConsumerVersion, stopBareConsumers, type BareConsumerSettings } from './support/bare-consumer.js';
import { now, sleep } from './support/clock.js';
import { startRelay, type Relay } from './support/relay.js';
import { machine, progressFor, scenarioArgs, writeResult } from './support/scenario.js';
import { startSecretsManagerDouble } from '../test/support/secrets-manager-double.js';
import { summarize, type Summary } from './support/stats.js';

const args = scenarioArgs('worker-publish-latency', ['events', 'delay-ms', 'fast-publish']);
const progress = progressFor('worker-publish-latency');
const total = Number(args.options.events ?? (args.quick ? 50 : 300));
const fastPublish = args.options['fast-publish'] ?? 'false';

if (args.options['delay-ms'] !== undefined) await onDouble(Number(args.options['delay-ms']));
else await onMoto();
process.exit(0);

async function onMoto(): Promise<void> {
  const fixture = await RelayFixture.start();
  try {
    const { worker, outcomes } = await fixture.startWorker({ ROTATION_RELAY_LOG_LEVEL: 'warn', ROTATION_RELAY_FAST_PUBLISH: fastPublish });
    progress(`moto_server, redis-server and fauxqs up; ${total} secrets, one rotation each (fast publish: ${fastPublish})`);
    const secrets = [];
    for (let i = 0; i < total; i += 1) secrets.push(await fixture.createSecret('bench/db'));
    const versions = [];
    for (const secret of secrets) versions.push(await fixture.secrets.rotate(secret));
    for (const [i, secret] of secrets.entries()) {
      const before = outcomes.length;
      await fixture.send(labelUpdatedEvent(secret.arn, versions[i] ?? ''));
      await fixture.until(() => outcomes.length > before, `event ${i} to be handled`);
      if ((i + 1) % Math.ceil(total / 4) === 0) progress(`${i + 1}/${total} events published`);
    }
    await worker.stop();
    const latencies = fixture.logs
      .records()
      .filter((r) => r._aws !== undefined && r.PublishLatencyMs !== undefined)
      .flatMap((r) => (Array.isArray(r.PublishLatencyMs) ? r.PublishLatencyMs : [r.PublishLatencyMs]) as number[]);
    const result = {
      scenario: 'worker SQS receive → PUBLISH, one event at a time (Secrets Manager: moto_server)',
      quick: args.quick,
      date: new Date().toISOString(),
      machine: machine(),
      fastPublish: fastPublish === 'true',
      events: total,
      published: outcomes.filter((o) => o.kind === 'published').length,
      publishLatencyMs: summarize(latencies),
    };
    writeResult(args.out, result);
    progress(`p50 ${result.publishLatencyMs.p50} ms, p99 ${result.publishLatencyMs.p99} ms; done: ${args.out}`);
  } finally {
    await fixture.stop();
  }
}

async function onDouble(delayMs: number): Promise<void> {
  const relay = await startRelay();
  const double = await startSecretsManagerDouble({ delayMs });
  const secretsClient = new SecretsManagerClient({ endpoint: double.endpoint, region: double.region, credentials: double.credentials });
  const metrics = new MetricsRecorderDouble();
  const config = { ...loadWorkerConfig(relay.env({ ROTATION_RELAY_FAST_PUBLISH: fastPublish })), aws: { region: relay.fauxqs.region, customSqsEndpoint: true } };
  const worker = new RelayWorker(config, {
    sqs: relay.sqs,
    secrets: secretsClient,
    metrics,
    instancesStale: false,
    logger: createLogger({ level: 'warn', base: { component: 'worker' }, destination: process.stderr }),
  });
  try {
    const admin = new MotoSecrets({ endpoint: double.endpoint, region: double.region, credentials: double.credentials } as unknown as MotoHandle);
    let decided: { outcome: MessageOutcome; at: number } | undefined;
    worker.on('outcome', (outcome) => (decided = { outcome, at: now() }));
    await worker.start();
    progress(`latency double (${delayMs} ms), redis-server and fauxqs up; ${total} rotations of one secret (fast publish: ${fastPublish})`);
    const secret = await admin.create('bench/latency');
    const enqueueToPublish: number[] = [];
    let published = 0;
    let fastPublished = 0;
    for (let i = 0; i < total; i += 1) {
      const versionId = await admin.rotate(secret);
      decided = undefined;
      const enqueuedAt = now();
      await relay.send(labelUpdatedEvent(secret.arn, versionId));
      while (decided === undefined) await sleep(1);
      const { outcome, at } = decided as { outcome: MessageOutcome; at: number };
      if (outcome.kind === 'published') {
        published += 1;
        if (outcome.fast) fastPublished += 1;
        enqueueToPublish.push(at - enqueuedAt);
      }
      // Let the confirmation finish. Rotations of one secret are minutes apart in reality; 200 ms
      // keeps the run short while leaving each event newer than the last read by more than the
      // fast-publish margin (100 ms), as a real rotation would be.
      while (worker.status.inFlight > 0) await sleep(1);
      await sleep(200);
      if ((i + 1) % Math.ceil(total / 4) === 0) progress(`${i + 1}/${total} events published`);
    }
    await worker.stop();
    const floor = await sqsFloor(relay, { ...config, queueUrl: (await relay.newQueue()).queueUrl }, () => labelUpdatedEvent(secret.arn, randomUUID()));
    const result = {
      scenario: `worker enqueue → PUBLISH and receive → PUBLISH, one rotation at a time (Secrets Manager: latency double, ${delayMs} ms)`,
      quick: args.quick,
      date: new Date().toISOString(),
      machine: machine(),
      fastPublish: fastPublish === 'true',
      events: total,
      published,
      // Published before DescribeSecret answered (fast publish on, and the event newer than the margin).
      fastPublished,
      describeSecretCalls: double.stats().byOperation.DescribeSecret ?? 0,
      enqueueToPublishMs: summarize(enqueueToPublish),
      publishLatencyMs: summarize(metrics.timings('PublishLatencyMs')),
      // The SQS floor (see the header): enqueue → receive by bare sqs-consumer loops, same count.
      sqsFloorP50Ms: floor.enqueueToReceiveMs.p50,
      sqsFloorP99Ms: floor.enqueueToReceiveMs.p99,
      sqsFloor: floor,
    };
    writeResult(args.out, result);
    progress(
      `enqueue → PUBLISH p50 ${result.enqueueToPublishMs.p50} / p99 ${result.enqueueToPublishMs.p99} ms; ` +
        `SQS floor (enqueue → receive) p50 ${result.sqsFloorP50Ms} / p99 ${result.sqsFloorP99Ms} ms; done: ${args.out}`,
    );
  } finally {
    await worker.stop();
    secretsClient.destroy();
    await Promise.allSettled([double.stop(), relay.stop()]);
  }
}

/**
 * Enqueue → receive on bare sqs-consumer loops with `settings`, `total` events one at a time,
 * each sent once the previous one is deleted and every loop is back in its long poll. The stamp is
 * taken when sqs-consumer calls the batch handler, where the worker's intake stamps `receivedAt`.
 */
async function sqsFloor(
  relay: Relay,
  settings: BareConsumerSettings,
  body: () => unknown,
): Promise<{ events: number; received: number; enqueueToReceiveMs: Summary; settings: Record<string, unknown> }> {
  let receivedAt: number | undefined;
  let deleted = false;
  let stopping = false;
  const consumers = createBareConsumers(
    bareConsumerSettings(settings),
    relay.sqs,
    async (messages) => {
      receivedAt ??= now();
      return messages;
    },
    // Stopping aborts the idle long polls: not an error.
    (error) => {
      if (!stopping) progress(`SQS floor: ${error.message}`);
    },
  );
  for (const consumer of consumers) consumer.on('response_processed', () => (deleted = true));
  for (const consumer of consumers) consumer.start();
  const enqueueToReceive: number[] = [];
  try {
    await sleep(200); // every loop in its first long poll
    for (let i = 0; i < total; i += 1) {
      receivedAt = undefined;
      deleted = false;
      const enqueuedAt = now();
      await relay.send(body());
      while (receivedAt === undefined) await sleep(1);
      enqueueToReceive.push((receivedAt as number) - enqueuedAt);
      // The delete done, and the loop that received back in a long poll (fauxqs wakes waiting
      // polls when a message arrives, so a longer pause would change nothing).
      while (!deleted) await sleep(1);
      await sleep(50);
    }
  } finally {
    stopping = true;
    await stopBareConsumers(consumers);
  }
  progress(`SQS floor: ${total} events received`);
  return {
    events: total,
    received: enqueueToReceive.length,
    enqueueToReceiveMs: summarize(enqueueToReceive),
    settings: { sqsConsumer: sqsConsumerVersion(), consumers: settings.consumers, ...consumerOptions(settings), handler: 'acknowledge only (DeleteMessageBatch)' },
  };
}
