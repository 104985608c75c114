/**
 * Proves every test-support launcher works on this machine, so a broken environment fails here
 * with a clear message instead of as mysterious failures in the real integration tests.
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { Redis, type RedisOptions } from 'ioredis';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFauxqs, type FauxqsHandle } from '../support/fauxqs.js';
import { freePort } from '../support/free-port.js';
import { motoClientConfig, startMoto, type MotoHandle } from '../support/moto-server.js';
import { postgresBinDir, startPostgres, type PgHandle } from '../support/postgres.js';
import { redisAnswersPing } from '../support/redis-probe.js';
import { startRedis, type RedisHandle } from '../support/redis-server.js';
import { requireBinary } from '../support/require-binary.js';
import { runCommand } from '../support/run-command.js';
import { waitUntil } from '../support/wait-until.js';

describe('support utilities', () => {
  it('freePort returns a bindable loopback port', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(await redisAnswersPing(port, 200)).toBe(false); // nothing listens there
  });

  it('waitUntil resolves once the predicate holds and names what it waited for on timeout', async () => {
    let calls = 0;
    await waitUntil(() => ++calls >= 3, { message: 'three calls' });
    expect(calls).toBe(3);
    await expect(
      waitUntil(() => false, { timeoutMs: 50, intervalMs: 10, message: 'the impossible' }),
    ).rejects.toThrow(/timed out after 50 ms waiting for: the impossible/);
  });

  it('requireBinary fails with what to install, never skips', () => {
    expect(() => requireBinary('no-such-binary-rr', 'apt-get install no-such-binary-rr')).toThrow(
      'no-such-binary-rr not found on PATH: install it with `apt-get install no-such-binary-rr`',
    );
    expect(requireBinary('redis-server', 'apt-get install redis-server')).toMatch(/redis-server$/);
  });
});

describe('startRedis', () => {
  let redis: RedisHandle;
  let acl: RedisHandle;
  const clients: Redis[] = [];
  const client = (handle: RedisHandle, extra: RedisOptions = {}): Redis => {
    const c = new Redis({
      host: handle.host,
      port: handle.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      enableReadyCheck: false, // its INFO would fail with NOAUTH on the anonymous client
      ...extra,
    });
    c.on('error', () => {}); // failures surface through the awaited promises
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    [redis, acl] = await Promise.all([
      startRedis(),
      startRedis({ password: 'default-pw', aclUsers: [{ name: 'app', passwords: ['old-pw', 'new-pw'] }] }),
    ]);
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await Promise.all([redis?.stop(), acl?.stop()]);
  });

  it('answers PING on its own loopback port', async () => {
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    const c = client(redis);
    await c.connect();
    expect(await c.ping()).toBe('PONG');
  });

  it('restart keeps the port; kill then start brings it back', async () => {
    const before = client(redis);
    await before.connect();
    await redis.restart();
    await waitUntil(() => before.status === 'end', { message: 'old connection closed by restart' });
    const after = client(redis);
    await after.connect();
    expect(await after.ping()).toBe('PONG');

    await redis.kill();
    expect(await redisAnswersPing(redis.port, 200)).toBe(false);
    await redis.start();
    expect(await redisAnswersPing(redis.port)).toBe(true);
  });

  it('enforces the default password and ACL users with several valid passwords', async () => {
    const anonymous = client(acl);
    await anonymous.connect();
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    const c = client(acl, { password: 'default-pw' });
    await c.connect();
    expect(await c.ping()).toBe('PONG');
    expect(await c.call('AUTH', 'app', 'old-pw')).toBe('OK');
    expect(await c.call('AUTH', 'app', 'new-pw')).toBe('OK');
    await expect(c.call('AUTH', 'app', 'wrong')).rejects.toThrow(/WRONGPASS/);
  });
});

describe('startMoto', () => {
  let moto: MotoHandle;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it('CreateSecret → DescribeSecret shows the version labelled AWSCURRENT; reset forgets it', async () => {
    const sm = new SecretsManagerClient(motoClientConfig(moto));
    const created = await sm.send(new CreateSecretCommand({ Name: 'smoke/db', SecretString: 'v1' }));
    const described = await sm.send(new DescribeSecretCommand({ SecretId: 'smoke/db' }));
    expect(described.VersionIdsToStages).toEqual({ [created.VersionId!]: ['AWSCURRENT'] });

    await moto.reset();
    await expect(sm.send(new DescribeSecretCommand({ SecretId: 'smoke/db' }))).rejects.toThrow(/can't find|not found/i);
    sm.destroy();
  });

  it('rotates with AWSPENDING + UpdateSecretVersionStage (read back by VersionStage)', async () => {
    const sm = new SecretsManagerClient(motoClientConfig(moto));
    const v1 = await sm.send(new CreateSecretCommand({ Name: 'smoke/rot', SecretString: 'v1' }));
    const token = '11111111-1111-4111-8111-111111111111';
    await sm.send(
      new PutSecretValueCommand({ SecretId: 'smoke/rot', ClientRequestToken: token, SecretString: 'v2', VersionStages: ['AWSPENDING'] }),
    );
    await sm.send(
      new UpdateSecretVersionStageCommand({ SecretId: 'smoke/rot', VersionStage: 'AWSCURRENT', MoveToVersionId: token, RemoveFromVersionId: v1.VersionId }),
    );
    const get = (VersionStage: string) => sm.send(new GetSecretValueCommand({ SecretId: 'smoke/rot', VersionStage }));
    expect((await get('AWSCURRENT')).SecretString).toBe('v2');
    expect((await get('AWSPREVIOUS')).SecretString).toBe('v1');
    sm.destroy();
  });

  it('SQS RedrivePolicy moves a message to the DLQ after maxReceiveCount receives', async () => {
    const sqs = new SQSClient(motoClientConfig(moto));
    await expectRedrive(sqs);
    sqs.destroy();
  });
});

describe('startFauxqs', () => {
  let fauxqs: FauxqsHandle;
  let sqs: SQSClient;
  beforeAll(async () => {
    fauxqs = await startFauxqs();
    sqs = new SQSClient({ endpoint: fauxqs.endpoint, region: fauxqs.region, credentials: fauxqs.credentials });
  });
  afterAll(async () => {
    sqs?.destroy();
    await fauxqs?.stop();
  });

  it('send → receive', async () => {
    const { queueUrl } = await fauxqs.createQueue('smoke');
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'hello' }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }));
    expect(got.Messages?.map((m) => m.Body)).toEqual(['hello']);
  });

  it('createQueue with dlq: redrive happens after maxReceiveCount receives', async () => {
    const { queueUrl, dlqUrl } = await fauxqs.createQueue('smoke-redrive', {
      dlq: { maxReceiveCount: 2 },
      visibilityTimeoutSeconds: 0,
    });
    await expectRedriveOn(sqs, queueUrl, dlqUrl!);
  });
});

describe('startPostgres', () => {
  let pg: PgHandle;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  const psql = (password: string, sql: string): Promise<string> =>
    runCommand(
      join(postgresBinDir(), 'psql'),
      ['-h', pg.host, '-p', String(pg.port), '-U', pg.superuser.user, '-d', 'postgres', '-tAc', sql],
      { env: { PATH: process.env.PATH, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' } },
    );

  it('accepts the superuser password over TCP, stored as SCRAM', async () => {
    const out = await psql(pg.superuser.password, "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'postgres'");
    expect(out.trim()).toBe('t');
  });

  it('rejects a wrong password', async () => {
    await expect(psql(`${pg.superuser.password}-wrong`, 'SELECT 1')).rejects.toThrow(/password authentication failed/);
  });
});

/** Creates a queue + DLQ (maxReceiveCount 2) through the SDK and checks the redrive. */
async function expectRedrive(sqs: SQSClient): Promise<void> {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: 'smoke-dlq' }));
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }));
  const main = await sqs.send(
    new CreateQueueCommand({
      QueueName: 'smoke-main',
      Attributes: {
        VisibilityTimeout: '0',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: attrs.Attributes?.QueueArn, maxReceiveCount: 2 }),
      },
    }),
  );
  await expectRedriveOn(sqs, main.QueueUrl!, dlq.QueueUrl!);
}

/** With VisibilityTimeout 0 and maxReceiveCount 2: receives 1–2 see it, then it is in the DLQ. */
async function expectRedriveOn(sqs: SQSClient, queueUrl: string, dlqUrl: string): Promise<void> {
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'poison' }));
  const receive = async (url: string) =>
    (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1 }))).Messages ?? [];
  expect((await receive(queueUrl)).map((m) => m.Body)).toEqual(['poison']);
  expect((await receive(queueUrl)).map((m) => m.Body)).toEqual(['poison']);
  expect(await receive(queueUrl)).toEqual([]);
  expect((await receive(dlqUrl)).map((m) => m.Body)).toEqual(['poison']);
}
