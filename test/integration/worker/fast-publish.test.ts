import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPublishedVersion } from '../../../src/protocol/index.js';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { RelayWorker } from '../../../src/relay/worker/relay-worker.js';
import { startAwsProxyDouble, type AwsProxyDouble } from '../../support/aws-proxy-double.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent, moveCurrentEvent, rotationEvents } from '../../support/rotation-events.js';

const DESCRIBE = 'secretsmanager.DescribeSecret';

/**
 * ROTATION_RELAY_FAST_PUBLISH=true on real services (moto_server behind the fault proxy double,
 * fauxqs, redis-server): events that say which version became AWSCURRENT are broadcast before
 * DescribeSecret answers, still confirmed before they are deleted, corrected when wrong, and a
 * rotation's several events are still one broadcast.
 */
describe('RelayWorker with fast publish', () => {
  let fixture: RelayFixture;
  let proxy: AwsProxyDouble;
  let secretsClient: SecretsManagerClient;
  let worker: RelayWorker;
  let reader: Redis;
  const outcomes: MessageOutcome[] = [];
  const corrected: MessageOutcome[] = [];
  const retries: Error[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start({ maxReceiveCount: 10 });
    proxy = await startAwsProxyDouble(fixture.moto.endpoint);
    secretsClient = new SecretsManagerClient({ endpoint: proxy.endpoint, region: fixture.moto.region, credentials: { ...fixture.moto.credentials }, maxAttempts: 1 });
    worker = new RelayWorker(fixture.config({ ROTATION_RELAY_FAST_PUBLISH: 'true', ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS: '2' }), {
      sqs: fixture.sqs,
      secrets: secretsClient,
      logger: fixture.logs.logger,
      instancesStale: false,
    });
    worker.on('outcome', (outcome) => outcomes.push(outcome));
    worker.on('corrected', (outcome) => corrected.push(outcome));
    worker.on('retry', (error) => retries.push(error));
    await worker.start();
    reader = new Redis(fixture.redis.url);
  });

  afterAll(async () => {
    reader?.disconnect();
    await worker?.stop();
    secretsClient?.destroy();
    await proxy?.stop();
    await fixture?.stop();
  });

  async function queueDepth(): Promise<number> {
    const { Attributes } = await fixture.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: fixture.queue.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  it('broadcasts before DescribeSecret answers, and deletes the message only once a read confirmed it', async () => {
    const received = await fixture.listen();
    const secret = await fixture.createSecret('fast/db');
    const version = await fixture.secrets.rotate(secret);
    proxy.setFault((action) => (action === DESCRIBE ? { delayMs: 1_000 } : undefined));
    try {
      await fixture.send(labelUpdatedEvent(secret.arn, version));

      await fixture.until(() => received.some((i) => i.secretArn === secret.arn), 'the broadcast');
      // DescribeSecret is held for a second: the message is still being confirmed.
      expect(worker.status.inFlight).toBe(1);
      expect(await queueDepth()).toBe(1);
    } finally {
      proxy.setFault(() => undefined);
    }

    await fixture.until(async () => (await queueDepth()) === 0, 'the message to be deleted after its confirmation');
    expect(received.filter((i) => i.secretArn === secret.arn).map((i) => i.versionId)).toEqual([version]);
    expect(outcomes.filter((o) => o.kind === 'published' && o.secretArn === secret.arn)).toEqual([
      { kind: 'published', ack: true, secretArn: secret.arn, versionId: version, receivers: 1, fast: true },
    ]);
  });

  it('keeps one broadcast for a rotation whose four events are delivered twice', async () => {
    const received = await fixture.listen();
    const secret = await fixture.createSecret('fast/rotation');
    const oldVersion = secret.versionId;
    const newVersion = await fixture.secrets.rotate(secret);
    const events = rotationEvents(secret.arn, newVersion, oldVersion);
    const before = outcomes.length;

    for (const event of [...events, ...events]) await fixture.send(event);

    await fixture.until(() => outcomes.length - before >= 8, 'all eight deliveries to be handled');
    await fixture.until(async () => (await queueDepth()) === 0, 'every delivery to be deleted');
    // One broadcast, and every other delivery of the four collapsed into it. A second copy is
    // 'duplicate-event' when its first copy's record is visible, or 'unchanged-version' when the two
    // copies are handled at the same time by different consumers: which one is timing (a fresh-clone
    // CI run saw 2 + 3 instead of 3 + 2), that neither publishes is the contract.
    const kinds = outcomes.slice(before).map((o) => o.kind);
    const count = (kind: string) => kinds.filter((k) => k === kind).length;
    expect(kinds).toHaveLength(8);
    expect([count('published'), count('ignored'), count('duplicate-event') + count('unchanged-version')]).toEqual([1, 2, 5]);
    expect(received.filter((i) => i.secretArn === secret.arn).map((i) => i.versionId)).toEqual([newVersion]);
  });

  it('publishes a correction when DescribeSecret contradicts the event', async () => {
    const received = await fixture.listen();
    const secret = await fixture.createSecret('fast/lie');
    const current = await fixture.secrets.rotate(secret);
    await fixture.send(labelUpdatedEvent(secret.arn, current));
    await fixture.until(async () => (await readPublishedVersion(reader, 'rotation-relay', secret.arn))?.versionId === current && (await queueDepth()) === 0, 'the rotation to be confirmed');
    // An event claiming that a version still AWSPENDING became current, newer than anything known.
    const pending = await fixture.secrets.putPending(secret);
    const lie = { ...moveCurrentEvent(secret.arn, pending, current), time: new Date(Date.now() + 5_000).toISOString() };

    await fixture.send(lie);

    await fixture.until(() => corrected.some((o) => o.kind === 'published' && o.secretArn === secret.arn), 'the correction');
    expect(received.filter((i) => i.secretArn === secret.arn).map((i) => i.versionId)).toEqual([current, pending, current]);
    expect(corrected.find((o) => o.kind === 'published' && o.secretArn === secret.arn)).toMatchObject({ versionId: pending, correction: { versionId: current } });
    expect((await readPublishedVersion(reader, 'rotation-relay', secret.arn))?.versionId).toBe(current);
    expect(fixture.logs.records().some((r) => String(r.msg).includes('published a correction'))).toBe(true);
  });

  it('confirms a fast broadcast on redelivery when the first confirmation failed, without a second broadcast', async () => {
    const received = await fixture.listen();
    const secret = await fixture.createSecret('fast/retry');
    const version = await fixture.secrets.rotate(secret);
    const retriesBefore = retries.length;
    const before = outcomes.length;
    proxy.setFault((action) => (action === DESCRIBE ? { status: 500, errorType: 'InternalServiceError' } : undefined));
    try {
      await fixture.send(labelUpdatedEvent(secret.arn, version));
      await fixture.until(() => retries.length > retriesBefore, 'the confirmation to fail');
      expect(received.filter((i) => i.secretArn === secret.arn).map((i) => i.versionId)).toEqual([version]);
    } finally {
      proxy.setFault(() => undefined);
    }

    await fixture.until(async () => (await queueDepth()) === 0, 'the redelivery to be confirmed and deleted', 20_000);
    expect(outcomes.slice(before).map((o) => o.kind)).toEqual(['published', 'duplicate-event']);
    expect(received.filter((i) => i.secretArn === secret.arn)).toHaveLength(1);
  });
});
