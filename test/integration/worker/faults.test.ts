import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPublishedVersions } from '../../../src/protocol/index.js';
import type { MessageOutcome } from '../../../src/worker/handle-message.js';
import type { RelayWorker } from '../../../src/worker/relay-worker.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';

describe('RelayWorker under faults (real redis-server, fauxqs with a redrive policy, moto_server)', () => {
  let fixture: RelayFixture;
  let worker: RelayWorker;
  let outcomes: MessageOutcome[];
  const retries: Error[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start({ maxReceiveCount: 2, visibilityTimeoutSeconds: 1 });
    ({ worker, outcomes } = await fixture.startWorker({ ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS: '2' }));
    worker.on('retry', (error) => retries.push(error));
  });

  afterAll(async () => {
    await fixture?.stop();
  });

  async function dlqDepth(): Promise<number> {
    const { Attributes } = await fixture.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: fixture.queue.dlqUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  it('moves poison bodies to the DLQ after maxReceiveCount while good messages keep flowing', async () => {
    const received = await fixture.listen();
    const good = await Promise.all([fixture.createSecret(), fixture.createSecret()]);
    const versions = await Promise.all(good.map((secret) => fixture.secrets.rotate(secret)));

    await fixture.send('this is not json');
    await fixture.send(labelUpdatedEvent(good[0]?.arn ?? '', versions[0] ?? ''));
    await fixture.send({ source: 'aws.s3', 'detail-type': 'Object Created', detail: {} });
    await fixture.send(labelUpdatedEvent(good[1]?.arn ?? '', versions[1] ?? ''));

    await fixture.until(() => good.every((s) => received.some((i) => i.secretArn === s.arn)), 'both good messages to be published');
    await fixture.until(async () => (await dlqDepth()) >= 2, 'both poison bodies to reach the DLQ', 20_000);
    expect(await dlqDepth()).toBe(2);
    expect(outcomes.filter((o) => o.kind === 'rejected').length).toBeGreaterThanOrEqual(4);
  });

  it('loses nothing when Redis stops mid-stream: messages stay on the queue and publish once it is back', async () => {
    const secrets = await Promise.all(Array.from({ length: 5 }, () => fixture.createSecret('outage/db')));
    const versions = await Promise.all(secrets.map((secret) => fixture.secrets.rotate(secret)));
    await fixture.redis.stop();
    const retriesBefore = retries.length;

    for (const [i, secret] of secrets.entries()) await fixture.send(labelUpdatedEvent(secret.arn, versions[i] ?? ''));
    await fixture.until(() => retries.length - retriesBefore >= secrets.length, 'every message to fail while Redis is down');
    expect(worker.status.redisReady).toBe(false);
    await fixture.redis.start();

    const reader = new Redis(fixture.redis.url);
    try {
      await fixture.until(async () => {
        const published = await readPublishedVersions(reader, 'rotation-relay');
        return secrets.every((secret, i) => published.get(secret.arn)?.versionId === versions[i]);
      }, 'every secret to be published after Redis is back', 30_000);
    } finally {
      reader.disconnect();
    }
  });
});
