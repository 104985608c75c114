import { randomBytes } from 'node:crypto';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyInvalidation } from '../../../src/protocol/index.js';
import { startFaultProxyDouble } from '../../support/fault-proxy-double.js';
import { startFauxqs } from '../../support/fauxqs.js';
import { freePort } from '../../support/free-port.js';
import { runCliProcess, type CliProcess } from '../../support/cli-process.js';
import { motoClientConfig, startMoto, type MotoHandle } from '../../support/moto-server.js';
import { MotoSecrets } from '../../support/moto-secrets.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { labelUpdatedEvent, rotationSucceededEvent } from '../../support/rotation-events.js';

/**
 * The worker and `listen` as operators run them: separate processes configured only through
 * environment variables, the AWS SDK pointed at moto_server by AWS_ENDPOINT_URL (SQS and Secrets
 * Manager both in moto here, with moto's real redrive policy).
 */
describe('rotation-relay worker + listen as processes, against moto_server and redis-server', () => {
  let moto: MotoHandle;
  let redis: RedisHandle;
  let sqs: SQSClient;
  let secrets: MotoSecrets;
  let queueUrl: string;
  const signingKey = randomBytes(32).toString('base64url');
  const started: CliProcess[] = [];

  const env = (): Record<string, string> => ({
    AWS_REGION: moto.region,
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
    ROTATION_RELAY_QUEUE_URL: queueUrl,
    ROTATION_RELAY_REDIS_URL: redis.url,
    ROTATION_RELAY_SIGNING_KEYS: signingKey,
    ROTATION_RELAY_WAIT_TIME_SECONDS: '1',
    ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS: '2',
    ROTATION_RELAY_HEALTH_PORT: '0',
    ROTATION_RELAY_HEALTH_HOST: '127.0.0.1',
    ROTATION_RELAY_CONFIRM_WINDOW_MS: '500',
  });
  const start = (args: string[], extra: Record<string, string> = {}) => {
    const process = runCliProcess(args, { ...env(), ...extra });
    started.push(process);
    return process;
  };
  const send = (body: unknown) => sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(body) }));

  beforeAll(async () => {
    [moto, redis] = await Promise.all([startMoto(), startRedis()]);
    sqs = new SQSClient(motoClientConfig(moto));
    secrets = new MotoSecrets(moto);
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: 'relay-dlq' }));
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
    const queue = await sqs.send(
      new CreateQueueCommand({
        QueueName: 'relay',
        Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 3 }), VisibilityTimeout: '2' },
      }),
    );
    queueUrl = queue.QueueUrl ?? '';
  });

  afterAll(async () => {
    for (const process of started) process.signal('SIGKILL');
    await Promise.allSettled(started.map((p) => p.exited));
    sqs?.destroy();
    secrets?.client.destroy();
    await Promise.allSettled([moto?.stop(), redis?.stop()]);
  });

  it('turns a RotationSucceeded and a Secret Label Updated body into one signed invalidation each, seen by listen', async () => {
    const worker = start(['worker']);
    await worker.waitForLine('stdout', (line) => line.includes('"worker started"'), 'the worker to start');
    const listener = start(['listen', '--count', '2']);
    await listener.waitForLine('stderr', (line) => line.includes('"listening"'), 'listen to subscribe');
    const first = await secrets.create(`cli/db-${randomBytes(3).toString('hex')}`);
    const second = await secrets.create(`cli/cache-${randomBytes(3).toString('hex')}`);
    const firstVersion = await secrets.rotate(first);
    const secondVersion = await secrets.rotate(second);

    await send(rotationSucceededEvent(first.arn));
    await send(labelUpdatedEvent(second.arn, secondVersion));

    expect(await listener.exited).toBe(0);
    const printed = listener.stdout().map((line) => verifyInvalidation(line, { keys: [signingKey] }));
    expect(printed.every((result) => result.ok && result.signatureVerified)).toBe(true);
    const byArn = new Map(printed.flatMap((r) => (r.ok ? [[r.invalidation.secretArn, r.invalidation.versionId]] : [])));
    expect(byArn).toEqual(new Map([[first.arn, firstVersion], [second.arn, secondVersion]]));

    worker.signal('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.stdout().some((line) => line.includes('"worker stopped"'))).toBe(true);
  });

  it('exits 0 on SIGTERM mid-batch; what it did not finish is redelivered and published once', async () => {
    // Slow DescribeSecret down so that the first worker is surely mid-stream when stopped.
    const proxy = await startFaultProxyDouble(moto.endpoint);
    proxy.setFault((action) => (action.endsWith('DescribeSecret') ? { delayMs: 150 } : undefined));
    const subscriber = start(['listen']);
    await subscriber.waitForLine('stderr', (line) => line.includes('"listening"'), 'listen to subscribe');
    const created = await Promise.all(Array.from({ length: 12 }, (_, i) => secrets.create(`batch/s${i}-${randomBytes(3).toString('hex')}`)));
    const versions = new Map<string, string>();
    for (const secret of created) versions.set(secret.arn, await secrets.rotate(secret));
    const first = start(['worker'], { ROTATION_RELAY_BATCH_SIZE: '2', AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.endpoint });
    await first.waitForLine('stdout', (line) => line.includes('"worker started"'), 'the first worker to start');

    await Promise.all(created.map((secret) => send(labelUpdatedEvent(secret.arn, versions.get(secret.arn) ?? ''))));
    await first.waitForLine('stdout', (line) => line.includes('"invalidation published"'), 'the first publish');
    first.signal('SIGTERM');

    expect(await first.exited).toBe(0);
    const publishedByFirst = first.stdout().filter((line) => line.includes('"invalidation published"')).length;
    expect(publishedByFirst).toBeGreaterThan(0);
    expect(publishedByFirst).toBeLessThan(created.length);
    const second = start(['worker']);
    await subscriber.waitForLine(
      'stdout',
      () => new Set(subscriber.stdout().map((line) => (JSON.parse(line) as { secretArn: string }).secretArn)).size === created.length,
      'every secret to be published by one of the two workers',
      30_000,
    );
    const published = subscriber.stdout().map((line) => JSON.parse(line) as { secretArn: string; versionId: string });
    expect(published).toHaveLength(created.length);
    for (const invalidation of published) expect(invalidation.versionId).toBe(versions.get(invalidation.secretArn));
    second.signal('SIGTERM');
    expect(await second.exited).toBe(0);
    await proxy.stop();
  });

  it('sends SQS calls to AWS_ENDPOINT_URL_SQS even when the queue URL names another host', async () => {
    // fauxqs queue URLs name sqs.us-east-1.localhost, which the worker must not try to reach.
    const fauxqs = await startFauxqs();
    try {
      const queue = await fauxqs.createQueue('elsewhere');
      const worker = start(['worker'], {
        ROTATION_RELAY_QUEUE_URL: queue.queueUrl,
        AWS_ENDPOINT_URL_SQS: fauxqs.endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
      });

      await worker.waitForLine('stdout', (line) => line.includes('"worker started"'), 'the worker to start against fauxqs');
      worker.signal('SIGTERM');
      expect(await worker.exited).toBe(0);
    } finally {
      await fauxqs.stop();
    }
  });

  it('stops at once on SIGTERM while start-up is still waiting for Redis', async () => {
    const closedPort = await freePort();
    const worker = start(['worker'], { ROTATION_RELAY_REDIS_URL: `redis://127.0.0.1:${closedPort}` });
    await worker.waitForLine('stdout', (line) => line.includes('waiting for redis before consuming'), 'the worker to wait for Redis', 20_000);

    worker.signal('SIGTERM');

    expect(await worker.exited).toBe(0);
    expect(worker.stdout().some((line) => line.includes('"worker started"'))).toBe(false);
  });
});
