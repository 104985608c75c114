/**
 * Worker latency from SQS receive to PUBLISH (the `PublishLatencyMs` metric), on real local
 * services: fauxqs (in-process SQS), moto_server (DescribeSecret) and a private redis-server.
 * One event at a time, each after the previous one was published: the latency of an idle worker
 * picking up a rotation, not of a queue backlog (bench/worker.ts measures the backlog).
 *
 * Usage: tsx bench/worker-publish-latency.ts [--quick] [--events N] [--out FILE]
 */
import { RelayFixture } from '../test/support/relay-fixture.js';
import { labelUpdatedEvent } from '../test/support/rotation-events.js';
import { machine, progressFor, scenarioArgs, writeResult } from './support/scenario.js';
import { summarize } from './support/stats.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const args = scenarioArgs('worker-publish-latency', ['events']);
const progress = progressFor('worker-publish-latency');
const total = Number(args.options.events ?? (args.quick ? 50 : 300));

const fixture = await RelayFixture.start();
try {
  const { worker, outcomes } = await fixture.startWorker({ ROTATION_RELAY_LOG_LEVEL: 'warn' });
  progress(`moto_server, redis-server and fauxqs up; ${total} secrets, one rotation each`);
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
    events: total,
    published: outcomes.filter((o) => o.kind === 'published').length,
    publishLatencyMs: summarize(latencies),
  };
  writeResult(args.out, result);
  progress(`p50 ${result.publishLatencyMs.p50} ms, p99 ${result.publishLatencyMs.p99} ms; done: ${args.out}`);
} finally {
  await fixture.stop();
}
process.exit(0);
