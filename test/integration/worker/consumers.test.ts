import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { RelayWorker } from '../../../src/relay/worker/relay-worker.js';
import { startAwsProxyDouble, type AwsProxyDouble } from '../../support/aws-proxy-double.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent, rotationEvents } from '../../support/rotation-events.js';

/**
 * Several sqs-consumer loops in one worker (ROTATION_RELAY_CONSUMERS), one DescribeSecret shared
 * by the messages of one receive, and shutdown covering every loop — on moto_server (behind the
 * fault proxy double, to slow DescribeSecret down), fauxqs and redis-server.
 */
describe('RelayWorker with several consumers', () => {
  let fixture: RelayFixture;
  let proxy: AwsProxyDouble;
  const clients: SecretsManagerClient[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start();
    proxy = await startAwsProxyDouble(fixture.moto.endpoint);
  });

  afterAll(async () => {
    for (const client of clients) client.destroy();
    await proxy?.stop();
    await fixture?.stop();
  });

  function worker(overrides: Record<string, string>): { worker: RelayWorker; outcomes: MessageOutcome[] } {
    const secrets = new SecretsManagerClient({ endpoint: proxy.endpoint, region: fixture.moto.region, credentials: { ...fixture.moto.credentials } });
    clients.push(secrets);
    const relay = new RelayWorker(fixture.config(overrides), { sqs: fixture.sqs, secrets, logger: fixture.logs.logger, instancesStale: false });
    const outcomes: MessageOutcome[] = [];
    relay.on('outcome', (outcome) => outcomes.push(outcome));
    return { worker: relay, outcomes };
  }

  async function inFlightOnQueue(): Promise<number> {
    const { Attributes } = await fixture.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: fixture.queue.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  it('shares one DescribeSecret among the events of one rotation received together', async () => {
    const secret = await fixture.createSecret('consumers/shared');
    const oldVersion = secret.versionId;
    const newVersion = await fixture.secrets.rotate(secret);
    // Queued before the worker starts, so its first receive holds all four.
    for (const event of rotationEvents(secret.arn, newVersion, oldVersion)) await fixture.send(event);
    const received = await fixture.listen();
    const { worker: relay, outcomes } = worker({ ROTATION_RELAY_CONSUMERS: '1' });
    await relay.start();

    await fixture.until(() => outcomes.length === 4, 'the four events to be handled');

    expect(outcomes.map((o) => o.kind).sort()).toEqual(['ignored', 'published', 'unchanged-version', 'unchanged-version']);
    // Three events invalidate; their messages arrived in one receive, so one read serves them all.
    expect(relay.status.reads).toEqual({ started: 1, shared: 2 });
    await fixture.until(() => received.some((i) => i.secretArn === secret.arn), 'the broadcast');
    expect(received.filter((i) => i.secretArn === secret.arn).map((i) => i.versionId)).toEqual([newVersion]);
    await relay.stop();
  });

  it('runs the configured number of consumers, reports them, and stops them all after their in-flight messages', async () => {
    const secrets = await Promise.all(Array.from({ length: 6 }, () => fixture.createSecret('consumers/stop')));
    const versions = await Promise.all(secrets.map((secret) => fixture.secrets.rotate(secret)));
    const { worker: relay, outcomes } = worker({ ROTATION_RELAY_CONSUMERS: '3', ROTATION_RELAY_BATCH_SIZE: '1' });
    const stopped: number[] = [];
    relay.on('stopped', () => stopped.push(Date.now()));
    await relay.start();

    expect(relay.status).toMatchObject({ running: true, consumersRunning: 3, consumersConfigured: 3 });
    const ready = (await (await fetch(`http://127.0.0.1:${relay.status.healthPort}/readyz`)).json()) as { checks: Record<string, boolean> };
    expect(ready.checks).toEqual({ consuming: true, redis: true });

    // Slow reads: three consumers with batches of one hold three messages at once.
    proxy.setFault((action) => (action.endsWith('DescribeSecret') ? { delayMs: 400 } : undefined));
    try {
      for (const [i, secret] of secrets.entries()) await fixture.send(labelUpdatedEvent(secret.arn, versions[i] ?? ''));
      await fixture.until(() => relay.status.inFlight === 3, 'three messages in flight at once');

      await relay.stop();
    } finally {
      proxy.setFault(() => undefined);
    }

    expect(relay.status).toMatchObject({ running: false, consumersRunning: 0, inFlight: 0 });
    expect(stopped).toHaveLength(1);
    // What was in flight finished and was deleted; what was not received stays for the next worker.
    expect(outcomes.length).toBeGreaterThanOrEqual(3);
    expect(outcomes.every((o) => o.kind === 'published')).toBe(true);
    expect(await inFlightOnQueue()).toBe(secrets.length - outcomes.length);

    const next = worker({});
    await next.worker.start();
    await fixture.until(() => next.outcomes.length === secrets.length - outcomes.length, 'the next worker to handle the rest');
    expect(next.outcomes.every((o) => o.kind === 'published')).toBe(true);
    await next.worker.stop();
  });
});
