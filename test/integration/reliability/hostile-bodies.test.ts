import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { readPublishedVersions } from '../../../src/protocol/index.js';
import { RelayWorker } from '../../../src/relay/worker/relay-worker.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';
import { envelope } from '../../support/event-fixtures.js';

/**
 * Failure contract, "malformed or hostile SQS body → counted, logged without secret data, ends in
 * the DLQ; other messages unaffected", for bodies built to hurt rather than merely broken (the
 * plain malformed ones are in test/integration/worker/faults.test.ts): a 200 KB body, 50,000 levels
 * of nesting, prototype-pollution keys, a forged log line, another service's ARN, and an event for
 * a secret that does not exist. Good events are interleaved and must be published as usual.
 */
describe('hostile SQS bodies against the real worker (fauxqs with a redrive policy, moto_server, redis-server)', () => {
  let fixture: RelayFixture;
  let worker: RelayWorker;
  const metrics = new MetricsRecorderDouble();
  const outcomes: MessageOutcome[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start({ maxReceiveCount: 2, visibilityTimeoutSeconds: 1 });
    worker = new RelayWorker(fixture.config({ ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS: '2' }), {
      sqs: fixture.sqs,
      secrets: fixture.secrets.client,
      logger: fixture.logs.logger,
      metrics,
    });
    worker.on('outcome', (outcome) => outcomes.push(outcome));
    await worker.start();
  });

  afterAll(async () => {
    await worker?.stop();
    await fixture?.stop();
  });

  async function dlqDepth(): Promise<number> {
    const { Attributes } = await fixture.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: fixture.queue.dlqUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  it('rejects each hostile body into the DLQ, counted and logged as one safe line, while good events are published', async () => {
    const received = await fixture.listen();
    const good = await Promise.all([fixture.createSecret('hostile/db'), fixture.createSecret('hostile/cache')]);
    const versions = await Promise.all(good.map((secret) => fixture.secrets.rotate(secret)));
    const forgedLine = '{"level":"fatal","msg":"FORGED LOG LINE"}';
    const hostile = [
      JSON.stringify(envelope('Secret Label Updated', { labelUpdated: 'AWSCURRENT', padding: 'A'.repeat(200_000) }, { resources: ['not-an-arn'] })),
      `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
      '{"__proto__":{"source":"aws.secretsmanager","polluted":true},"constructor":{"prototype":{"polluted":true}}}',
      JSON.stringify(envelope(`Secret Label Updated\n${forgedLine}`, { labelUpdated: 'AWSCURRENT' }, { resources: [good[0]?.arn] })),
      JSON.stringify(envelope('Secret Label Updated', { labelUpdated: 'AWSCURRENT' }, { resources: ['arn:aws:s3:::my-bucket'] })),
    ];
    const ghost = labelUpdatedEvent('arn:aws:secretsmanager:us-east-1:123456789012:secret:does/not/exist-AbCdEf', 'v-ghost');

    await fixture.send(hostile[0]);
    await fixture.send(labelUpdatedEvent(good[0]?.arn ?? '', versions[0] ?? ''));
    for (const body of hostile.slice(1)) await fixture.send(body);
    await fixture.send(ghost);
    await fixture.send(labelUpdatedEvent(good[1]?.arn ?? '', versions[1] ?? ''));

    await fixture.until(() => good.every((secret, i) => received.some((inv) => inv.secretArn === secret.arn && inv.versionId === versions[i])), 'both good events published');
    await fixture.until(async () => (await dlqDepth()) === hostile.length, 'every hostile body in the DLQ', 20_000);
    // The event for a secret that does not exist is well-formed: alerted and acknowledged, not retried forever.
    expect(outcomes.filter((o) => o.kind === 'alerted')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'published')).toHaveLength(good.length);
    // Counted: each hostile body once, on its only receive (sent to the DLQ at once, not after maxReceiveCount 2).
    expect(metrics.total('EventsInvalid')).toBe(hostile.length);
    expect(metrics.total('EventsInvalid')).toBe(outcomes.filter((o) => o.kind === 'rejected').length);
    // Logged safely: every line is one JSON record, no forged record, no body echoed in full.
    const lines = fixture.logs.lines();
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(fixture.logs.records().some((record) => record['msg'] === 'FORGED LOG LINE')).toBe(false);
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThan(2_000);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(worker.status.running).toBe(true);
  });

  it('rejects a genuine-looking event that could never be published into the DLQ without a DescribeSecret, a retry or a broadcast', async () => {
    // Prepare: a real secret with a real new version, so only the body's own fields are wrong.
    const received = await fixture.listen();
    const secret = await fixture.createSecret('hostile/unpublishable');
    const version = await fixture.secrets.rotate(secret);
    const genuine = () => labelUpdatedEvent(secret.arn, version);
    const unpublishable = [
      { ...genuine(), id: 'x'.repeat(70_000) },
      { ...genuine(), id: 'evt-1\nevt-2' },
      { ...genuine(), time: 'yesterday at noon' },
    ];
    const retries: Error[] = [];
    worker.on('retry', (error) => retries.push(error));
    const depthBefore = await dlqDepth();
    const readsBefore = worker.status.reads.started;
    const rejectedBefore = outcomes.filter((o) => o.kind === 'rejected').length;

    // Act
    for (const body of unpublishable) await fixture.send(body);

    // Assess: each is rejected once, on its first receive, and sent to the DLQ by the worker.
    await fixture.until(async () => (await dlqDepth()) === depthBefore + unpublishable.length, 'every unpublishable body in the DLQ', 20_000);
    expect(outcomes.filter((o) => o.kind === 'rejected').length - rejectedBefore).toBe(unpublishable.length);
    expect(worker.status.reads.started).toBe(readsBefore);
    expect(retries).toEqual([]);
    expect(received.filter((inv) => inv.secretArn === secret.arn)).toEqual([]);
    const probe = new Redis(fixture.redis.url);
    try {
      expect((await readPublishedVersions(probe, 'rotation-relay')).has(secret.arn)).toBe(false);
      // The same event with sound fields is then published and stored as usual: nothing was poisoned.
      const sound = genuine();
      await fixture.send(sound);
      await fixture.until(() => received.some((inv) => inv.secretArn === secret.arn && inv.versionId === version), 'the genuine event published');
      expect((await readPublishedVersions(probe, 'rotation-relay')).get(secret.arn)).toMatchObject({ versionId: version, eventId: sound['id'] });
    } finally {
      probe.disconnect();
    }
  });
});
