import { randomBytes } from 'node:crypto';
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../../src/config/index.js';
import type { Invalidation } from '../../../src/protocol/index.js';
import { InvalidationListener } from '../../../src/sdk/cache/invalidation-listener.js';
import { RelayWorker } from '../../../src/relay/worker/relay-worker.js';
import { startFauxqs, type FauxqsHandle, type FauxqsQueue } from '../../support/fauxqs.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { captureLogger } from '../../support/log-capture.js';
import { startMoto, type MotoHandle } from '../../support/moto-server.js';
import { MotoSecrets, type TestSecret } from '../../support/moto-secrets.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';

const password = () => `tok-${randomBytes(12).toString('hex')}`;

/**
 * The worker connects to Redis as an ACL user whose password lives in Secrets Manager and
 * rotates. It must relay the rotation of that very token and keep publishing afterwards, even
 * when the old password stops working before the invalidation arrives (a hard switch).
 */
describe('worker whose own Redis password rotates (ROTATION_RELAY_REDIS_PASSWORD_SECRET_ID)', () => {
  let moto: MotoHandle;
  let redis: RedisHandle;
  let fauxqs: FauxqsHandle;
  let queue: FauxqsQueue;
  let sqs: SQSClient;
  let secrets: MotoSecrets;
  let worker: RelayWorker;
  let admin: Redis;
  let listener: InvalidationListener;
  let token: TestSecret;
  const received: Invalidation[] = [];
  const logs = captureLogger({ component: 'worker' });
  const first = password();
  // Signed, as in production: the worker's own token cache must verify what the worker publishes.
  const signingKey = randomBytes(32).toString('base64url');
  registerSecretValue(signingKey, 'own-redis-token signing key');

  beforeAll(async () => {
    [moto, redis, fauxqs] = await Promise.all([startMoto(), startRedis({ aclUsers: [{ name: 'relay', passwords: [first] }] }), startFauxqs()]);
    queue = await fauxqs.createQueue('relay', { dlq: { maxReceiveCount: 5 }, visibilityTimeoutSeconds: 1 });
    sqs = new SQSClient({ endpoint: fauxqs.endpoint, region: fauxqs.region, credentials: { ...fauxqs.credentials } });
    secrets = new MotoSecrets(moto);
    token = await secrets.create(`relay/redis-${randomBytes(3).toString('hex')}`, JSON.stringify({ password: first }));
    admin = new Redis(redis.url);
    listener = new InvalidationListener({ redis: { url: redis.url, cluster: false, keyPrefix: 'rotation-relay' }, signingKeys: [signingKey] });
    listener.on('invalidation', (i) => received.push(i));
    await listener.start();
    const config = loadWorkerConfig({
      AWS_REGION: moto.region,
      ROTATION_RELAY_QUEUE_URL: queue.queueUrl,
      ROTATION_RELAY_REDIS_URL: `redis://relay@127.0.0.1:${redis.port}`,
      ROTATION_RELAY_REDIS_PASSWORD_SECRET_ID: token.arn,
      ROTATION_RELAY_SIGNING_KEYS: signingKey,
      ROTATION_RELAY_WAIT_TIME_SECONDS: '1',
      ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS: '2',
      ROTATION_RELAY_HEALTH_PORT: '0',
      ROTATION_RELAY_HEALTH_HOST: '127.0.0.1',
    });
    worker = new RelayWorker({ ...config, aws: { ...config.aws, customSqsEndpoint: true } }, { sqs, secrets: secrets.client, logger: logs.logger });
    await worker.start();
  });

  afterAll(async () => {
    await worker?.stop();
    await listener?.stop();
    admin?.disconnect();
    sqs?.destroy();
    secrets?.client.destroy();
    await Promise.allSettled([moto?.stop(), redis?.stop(), fauxqs?.stop()]);
  });

  const send = (body: unknown) => sqs.send(new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: JSON.stringify(body) }));

  async function rotateAppSecretAndExpectBroadcast(): Promise<void> {
    const app = await secrets.create(`app/db-${randomBytes(3).toString('hex')}`);
    const version = await secrets.rotate(app);
    await send(labelUpdatedEvent(app.arn, version));
    await waitUntil(() => received.some((i) => i.secretArn === app.arn && i.versionId === version), {
      message: 'the worker to publish a rotation of another secret',
      timeoutMs: 20_000,
    });
  }

  it('authenticates with the password read from Secrets Manager', async () => {
    await rotateAppSecretAndExpectBroadcast();

    expect(await admin.call('CLIENT', 'LIST', 'TYPE', 'normal')).toContain('user=relay');
  });

  it('relays the rotation of its own token after a hard switch, then keeps publishing', async () => {
    const next = password();
    const pending = await secrets.putPending(token, JSON.stringify({ password: next }));
    // ElastiCache SET-style: only the new password works from here on, and connections drop.
    await admin.call('ACL', 'SETUSER', 'relay', 'resetpass', `>${next}`);
    await admin.call('CLIENT', 'KILL', 'USER', 'relay');
    await secrets.moveCurrent(token, pending);

    await send(labelUpdatedEvent(token.arn, pending));

    await waitUntil(() => received.some((i) => i.secretArn === token.arn && i.versionId === pending), {
      message: 'the invalidation of the worker’s own token',
      timeoutMs: 20_000,
    });
    await rotateAppSecretAndExpectBroadcast();
    expect(logs.lines().join('\n')).not.toContain(first);
    expect(logs.lines().join('\n')).not.toContain(next);
  });
});
