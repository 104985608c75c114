import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_LIMITS } from '../../../src/relay/events/limits.js';
import { readPublishedVersions } from '../../../src/protocol/index.js';
import { DEAD_LETTER_ATTRIBUTES, type RejectionCode } from '../../../src/relay/worker/dead-letter.js';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { RelayWorker } from '../../../src/relay/worker/relay-worker.js';
import { captureLogger } from '../../support/log-capture.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';

describe('RelayWorker under faults (real redis-server, fauxqs with a redrive policy, moto_server)', () => {
  let fixture: RelayFixture;
  let worker: RelayWorker;
  let outcomes: MessageOutcome[];
  const retries: Error[] = [];
  const deadLettered: Array<{ code: RejectionCode; messageId: string | undefined }> = [];
  /** SecretId of every DescribeSecret the worker made, in call order. */
  const described: string[] = [];
  const extraWorkers: RelayWorker[] = [];
  const extraClients: SQSClient[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start({ maxReceiveCount: 2, visibilityTimeoutSeconds: 1 });
    fixture.secrets.client.middlewareStack.add(
      (next, context) => async (args) => {
        // 'initialize' runs once per command, before retries.
        if (context.commandName === 'DescribeSecretCommand') described.push(String((args.input as { SecretId?: unknown }).SecretId));
        return next(args);
      },
      { step: 'initialize', name: 'recordDescribeSecret' },
    );
    ({ worker, outcomes } = await fixture.startWorker({ ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS: '2' }));
    worker.on('retry', (error) => retries.push(error));
    worker.on('deadLettered', (code, message) => deadLettered.push({ code, messageId: message.MessageId }));
  });

  afterAll(async () => {
    await Promise.allSettled(extraWorkers.map((extra) => extra.stop()));
    for (const client of extraClients) client.destroy();
    await fixture?.stop();
  });

  async function depth(queueUrl: string | undefined): Promise<number> {
    const { Attributes } = await fixture.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  /** Takes every message off a DLQ (they stay invisible for the rest of the file), with their attributes. */
  async function drain(queueUrl: string | undefined, expected: number): Promise<Message[]> {
    const taken: Message[] = [];
    await fixture.until(async () => {
      const { Messages } = await fixture.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 600, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
      );
      taken.push(...(Messages ?? []));
      return taken.length >= expected;
    }, `${expected} messages in the DLQ`);
    return taken;
  }

  it('moves every body that can never be published to the DLQ on its first receive, without a DescribeSecret, while good messages keep flowing', async () => {
    // Prepare: a real secret with a real new version, so only the poison bodies' own fields are wrong.
    const received = await fixture.listen();
    const good = await Promise.all([fixture.createSecret(), fixture.createSecret()]);
    const versions = await Promise.all(good.map((secret) => fixture.secrets.rotate(secret)));
    const doomed = await fixture.createSecret('poison/db');
    const doomedVersion = await fixture.secrets.rotate(doomed);
    const genuine = () => labelUpdatedEvent(doomed.arn, doomedVersion);
    const poison = [
      'this is not json',
      JSON.stringify({ source: 'aws.s3', 'detail-type': 'Object Created', detail: {} }),
      JSON.stringify({ ...genuine(), time: 'yesterday at noon' }),
      JSON.stringify({ ...genuine(), id: 'evt-1\nevt-2' }),
      JSON.stringify({ ...genuine(), id: `${randomUUID()}${'x'.repeat(EVENT_LIMITS.id)}` }),
    ];

    const describedBefore = described.length; // rotate() itself describes the secret

    // Act
    await fixture.send(poison[0]);
    await fixture.send(labelUpdatedEvent(good[0]?.arn ?? '', versions[0] ?? ''));
    for (const body of poison.slice(1)) await fixture.send(body);
    await fixture.send(labelUpdatedEvent(good[1]?.arn ?? '', versions[1] ?? ''));

    // Assess: good messages published, the poison in the DLQ after one receive each.
    await fixture.until(() => good.every((s) => received.some((i) => i.secretArn === s.arn)), 'both good messages to be published');
    await fixture.until(() => deadLettered.length >= poison.length, 'every poison body to be sent to the DLQ');
    const dead = await drain(fixture.queue.dlqUrl, poison.length);
    expect(dead.map((m) => m.Body).sort()).toEqual([...poison].sort());
    for (const m of dead) {
      expect(m.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.code]?.StringValue).toBe('EVENT_REJECTED');
      expect(m.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.receiveCount]?.StringValue).toBe('1');
      expect(m.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.reason]?.StringValue).toMatch(/\S/);
    }
    // One receive each: one rejection each, none retried, and none left on the queue.
    expect(outcomes.filter((o) => o.kind === 'rejected')).toHaveLength(poison.length);
    expect(retries).toEqual([]);
    await fixture.until(async () => (await depth(fixture.queue.queueUrl)) === 0, 'the poison bodies to be deleted from the queue');
    // Never described, never published, never stored.
    expect(described.slice(describedBefore).filter((id) => id === doomed.arn)).toEqual([]);
    expect(described.slice(describedBefore)).toEqual(expect.arrayContaining(good.map((s) => s.arn)));
    expect(received.filter((i) => i.secretArn === doomed.arn)).toEqual([]);
    const probe = new Redis(fixture.redis.url);
    try {
      expect((await readPublishedVersions(probe, 'rotation-relay')).has(doomed.arn)).toBe(false);
    } finally {
      probe.disconnect();
    }
    // The body is never logged, only why it was refused.
    const text = fixture.logs.lines().join('\n');
    for (const body of poison.slice(1)) expect(text).not.toContain(body);
    expect(text).not.toContain('x'.repeat(100));
    expect(fixture.logs.records().filter((r) => r['msg'] === 'message rejected; left for the DLQ')).toHaveLength(poison.length);
  });

  it('falls back to the redrive policy when it cannot send to the DLQ: moved after maxReceiveCount, one warning naming the grant', async () => {
    // Prepare: a second queue, and a worker whose SendMessage fails as an IAM denial would.
    const queue = await fixture.fauxqs.createQueue(`denied-${randomUUID().slice(0, 8)}`, { dlq: { maxReceiveCount: 2 }, visibilityTimeoutSeconds: 1 });
    const sqs = new SQSClient({ endpoint: fixture.fauxqs.endpoint, region: fixture.fauxqs.region, credentials: { ...fixture.fauxqs.credentials } });
    extraClients.push(sqs);
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'SendMessageCommand') {
          throw Object.assign(new Error('not authorized to perform: sqs:SendMessage'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
        }
        return next(args);
      },
      { step: 'initialize', name: 'denySendMessage' },
    );
    const logs = captureLogger({ component: 'worker' });
    const denied = new RelayWorker(fixture.config({ ROTATION_RELAY_QUEUE_URL: queue.queueUrl, ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS: '2' }), {
      sqs,
      secrets: fixture.secrets.client,
      logger: logs.logger,
      instancesStale: false,
    });
    extraWorkers.push(denied);
    const rejected: MessageOutcome[] = [];
    denied.on('outcome', (outcome) => {
      if (outcome.kind === 'rejected') rejected.push(outcome);
    });
    await denied.start();
    // Act
    for (const body of ['still not json', 'nor this']) {
      await fixture.sqs.send(new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: body }));
    }

    // Assess: SQS's own redrive after maxReceiveCount (2) receives each, as before this change.
    await fixture.until(async () => (await depth(queue.dlqUrl)) === 2, 'both bodies moved by the redrive policy', 20_000);
    expect(rejected.length).toBeGreaterThanOrEqual(4);
    const warnings = logs.records().filter((r) => typeof r['msg'] === 'string' && r['msg'].startsWith('could not send a rejected message to the DLQ'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ dlq: queue.dlqArn, code: 'EVENT_REJECTED', reason: 'AccessDenied (HTTP 403)' });
    expect(warnings[0]?.['msg']).toContain(`Grant the worker sqs:SendMessage on ${queue.dlqArn}`);
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
