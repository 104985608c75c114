import { randomBytes } from 'node:crypto';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvalidation, publishInvalidation, verifyInvalidation } from '../../../src/protocol/index.js';
import { startAwsProxyDouble } from '../../support/aws-proxy-double.js';
import { startFauxqs } from '../../support/fauxqs.js';
import { freePort } from '../../support/free-port.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { runCliProcess, type CliProcess } from '../../support/cli-process.js';
import { motoClientConfig, startMoto, type MotoHandle } from '../../support/moto-server.js';
import { MotoSecrets } from '../../support/moto-secrets.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { startRedisTls, type RedisTlsHandle } from '../../support/redis-tls.js';
import { startTcpProxyDouble } from '../../support/tcp-proxy-double.js';
import { labelUpdatedEvent, rotationSucceededEvent } from '../../support/rotation-events.js';

/**
 * The worker and `listen` as operators run them: separate processes configured only through
 * environment variables, the AWS SDK pointed at moto_server by AWS_ENDPOINT_URL (SQS and Secrets
 * Manager both in moto here, with moto's real redrive policy).
 */
describe('rotation-relay worker + listen as processes, against moto_server and redis-server', () => {
  let moto: MotoHandle;
  let redis: RedisHandle;
  /** A TLS-only redis-server with a throwaway CA: a server whose certificate nobody trusts. */
  let tls: RedisTlsHandle;
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
    [moto, redis, tls] = await Promise.all([startMoto(), startRedis(), startRedisTls()]);
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
    await Promise.allSettled([moto?.stop(), redis?.stop(), tls?.stop()]);
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
    const proxy = await startAwsProxyDouble(moto.endpoint);
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

  it('runs unsigned only when asked for: the worker and listen each warn at start, and listen prints the unsigned invalidation', async () => {
    // Prepare: the same environment without keys, opted in on the worker by variable, on listen by flag.
    const { ROTATION_RELAY_SIGNING_KEYS: _key, ...unsigned } = env();
    const run = (args: string[], extra: Record<string, string> = {}) => {
      const process = runCliProcess(args, { ...unsigned, ...extra });
      started.push(process);
      return process;
    };
    const prefix = `unsigned-${randomBytes(3).toString('hex')}`;
    const worker = run(['worker'], { ROTATION_RELAY_ALLOW_UNSIGNED: 'true', ROTATION_RELAY_KEY_PREFIX: prefix });
    await worker.waitForLine('stdout', (line) => line.includes('"worker started"'), 'the unsigned worker to start');
    const listener = run(['listen', '--count', '1', '--allow-unsigned'], { ROTATION_RELAY_KEY_PREFIX: prefix });
    await listener.waitForLine('stderr', (line) => line.includes('"listening"'), 'listen to subscribe');
    const secret = await secrets.create(`unsigned/db-${randomBytes(3).toString('hex')}`);
    const version = await secrets.rotate(secret);

    // Act
    await send(labelUpdatedEvent(secret.arn, version));

    // Assess: published unsigned, printed by listen.
    expect(await listener.exited).toBe(0);
    const printed = listener.stdout().map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(printed).toEqual([expect.objectContaining({ secretArn: secret.arn, versionId: version })]);
    expect(printed[0]).not.toHaveProperty('sig');
    // Each said so at start, at WARN, saying what it means and what to set.
    const warning = (worker.stdout().map((line) => JSON.parse(line) as Record<string, unknown>)).find((r) => r['level'] === 'warn' && String(r['msg']).startsWith('signing is off'));
    expect(warning?.['msg']).toMatch(/anyone who can publish on the Redis channel can make every instance re-read its secrets; set ROTATION_RELAY_SIGNING_KEYS/);
    const stderr = listener.stderr();
    expect(JSON.parse(stderr[0] ?? '{}')).toEqual({ warning: expect.stringMatching(/^signing is off .*set ROTATION_RELAY_SIGNING_KEYS/) });
    expect(stderr.find((line) => line.includes('"listening"'))).toContain('"verifying":"off (unsigned mode, no ROTATION_RELAY_SIGNING_KEYS)"');
    worker.signal('SIGTERM');
    expect(await worker.exited).toBe(0);
  });

  it.each([
    ['worker', ['worker'], /set ROTATION_RELAY_ALLOW_UNSIGNED=true\)$/],
    ['listen', ['listen'], /set ROTATION_RELAY_ALLOW_UNSIGNED=true or pass --allow-unsigned\)$/],
  ])('%s without signing keys exits 2 before connecting, naming both variables and how to make a key', async (_label, args, optIn) => {
    // Prepare
    const { ROTATION_RELAY_SIGNING_KEYS: _key, ...unsigned } = env();

    // Act
    const process = runCliProcess(args, unsigned);
    started.push(process);
    const code = await process.exited;

    // Assess
    expect(code).toBe(2);
    expect(process.stdout()).toEqual([]);
    expect(process.stderr()).toHaveLength(1);
    expect(process.stderr()[0]).toMatch(new RegExp(`^rotation-relay ${args[0]}: configuration: ROTATION_RELAY_SIGNING_KEYS: expected .*\`openssl rand -base64 48\``));
    expect(process.stderr()[0]).toMatch(optIn);
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

  describe('listen --count 1 when Redis cannot be used: says why once, then exits 1 after --timeout naming the target and the cause', () => {
    const password = `listen-timeout-${randomBytes(6).toString('hex')}`;

    beforeAll(async () => {
      registerSecretValue(password, 'the Redis password of the listen timeout tests');
      // A user that may connect (AUTH, the ready check, its connection name) but not SUBSCRIBE.
      const admin = new Redis(redis.url);
      try {
        await admin.call('ACL', 'SETUSER', 'nosubscribe', 'on', `>${password}`, '~*', '&*', '-@all', '+ping', '+info', '+client|setname');
      } finally {
        admin.disconnect();
      }
    });

    const hostPort = (url: string) => url.replace(/^rediss?:\/\//, '');
    const cases: Array<[string, () => Promise<{ url: string; target: string; cause: RegExp }>]> = [
      [
        'nothing listens on the port',
        async () => {
          const port = await freePort();
          return { url: `redis://reader:${password}@127.0.0.1:${port}`, target: `redis://127.0.0.1:${port}`, cause: new RegExp(`^connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`) };
        },
      ],
      ['the password is wrong', async () => ({ url: `redis://reader:${password}@${hostPort(redis.url)}`, target: redis.url, cause: /^WRONGPASS / })],
      ['the user may not SUBSCRIBE', async () => ({ url: `redis://nosubscribe:${password}@${hostPort(redis.url)}`, target: redis.url, cause: /^NOPERM / })],
      ['the server certificate is not trusted (no CA file)', async () => ({ url: tls.url, target: tls.url, cause: /CERT|UNABLE_TO_VERIFY|SELF_SIGNED/ })],
    ];

    it.each(cases)('%s', async (_label, setup) => {
      const { url, target, cause } = await setup();
      const started = Date.now();

      const listener = start(['listen', '--count', '1', '--timeout', '2s'], { ROTATION_RELAY_REDIS_URL: url });
      const code = await listener.exited;
      const tookMs = Date.now() - started;

      const stderr = listener.stderr();
      expect(code, stderr.join('\n')).toBe(1);
      expect(tookMs).toBeGreaterThanOrEqual(2_000);
      // ioredis retried every 50…2000 ms meanwhile: one line per distinct reason, then the verdict.
      expect(stderr).toHaveLength(2);
      const reported = JSON.parse(stderr[0] ?? '') as { error: string; redis: string };
      expect(reported.redis).toBe(target);
      expect(reported.error).toMatch(cause);
      expect(stderr[1]).toBe(`rotation-relay listen: Redis at ${target} not ready after 2000 ms: ${reported.error} [REDIS_NOT_READY]`);
      expect(listener.stdout()).toEqual([]);
    });
  });

  it('listen that loses Redis for longer than --timeout exits 1 naming the target', async () => {
    const proxy = await startTcpProxyDouble({ host: redis.host, port: redis.port });
    try {
      const listener = start(['listen', '--timeout', '2s'], { ROTATION_RELAY_REDIS_URL: proxy.url });
      await listener.waitForLine('stderr', (line) => line.includes('"listening"'), 'listen to subscribe through the proxy');

      const cutAt = Date.now();
      proxy.partition({ mode: 'reset' });
      const code = await listener.exited;

      expect(code).toBe(1);
      expect(Date.now() - cutAt).toBeGreaterThanOrEqual(2_000);
      const stderr = listener.stderr();
      expect(stderr.at(-1)).toMatch(new RegExp(`^rotation-relay listen: Redis at ${proxy.url} not ready after 2000 ms: \\S.* \\[REDIS_NOT_READY\\]$`));
      // Each reason once (read ECONNRESET, write ECONNRESET…), however many reconnects failed.
      const reasons = stderr.filter((line) => line.startsWith('{"error"'));
      expect(reasons.length).toBeGreaterThan(0);
      expect(new Set(reasons).size).toBe(reasons.length);
    } finally {
      await proxy.stop();
    }
  });

  it('publish with Secrets Manager unreachable exits 1 in one line naming the refused endpoint', async () => {
    const closedPort = await freePort();

    const publish = start(['publish', 'app/db'], { AWS_ENDPOINT_URL: `http://127.0.0.1:${closedPort}` });
    const code = await publish.exited;

    expect(code).toBe(1);
    expect(publish.stderr()).toEqual([
      `rotation-relay publish: DescribeSecret for secret app/db failed: ECONNREFUSED, Secrets Manager could not be reached; check the network, a proxy, or AWS_ENDPOINT_URL (cause: connect ECONNREFUSED 127.0.0.1:${closedPort}) [SECRETS_MANAGER_UNAVAILABLE]`,
    ]);
  });

  it('publish names the certificate error when the Secrets Manager endpoint presents an untrusted certificate', async () => {
    const publish = start(['publish', 'app/db'], { AWS_ENDPOINT_URL: `https://127.0.0.1:${tls.port}` });
    const code = await publish.exited;

    expect(code).toBe(1);
    expect(publish.stderr()).toHaveLength(1);
    expect(publish.stderr()[0]).toMatch(
      /^rotation-relay publish: DescribeSecret for secret app\/db failed: .*\(cause: [A-Z_]*(CERT|UNABLE_TO_VERIFY|SELF_SIGNED)[A-Z_]*: [^)]+\) \[SECRETS_MANAGER_UNAVAILABLE\]$/,
    );
  });

  it('worker start-up names why the queue cannot be read', async () => {
    const closedPort = await freePort();

    const worker = start(['worker'], { AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${closedPort}` });
    const code = await worker.exited;

    expect(code).toBe(1);
    expect(worker.stderr()).toEqual([
      `rotation-relay worker: cannot read queue ${queueUrl} (connect ECONNREFUSED 127.0.0.1:${closedPort}); check ROTATION_RELAY_QUEUE_URL, the region and the IAM policy [QUEUE_UNAVAILABLE]`,
    ]);
  });

  it('prints a status --json document of over 64 KiB into a pipe completely before it exits', async () => {
    // 300 secrets with long names: the document is far bigger than a pipe's 64 KiB buffer, so
    // most of it is still queued in the process when the command returns.
    const prefix = `pipe-${randomBytes(3).toString('hex')}`;
    const client = new Redis(redis.url);
    try {
      for (let i = 0; i < 300; i += 1) {
        const name = `pipe/${'n'.repeat(200)}-${i}`;
        await publishInvalidation(
          client,
          prefix,
          createInvalidation({
            secretArn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`,
            secretName: name,
            versionId: `v-${i}-${randomBytes(8).toString('hex')}`,
            reason: 'pipe test',
            eventId: `pipe-${i}`,
            eventTime: new Date().toISOString(),
          }),
        );
      }
    } finally {
      client.disconnect();
    }

    const status = start(['status', '--json'], { ROTATION_RELAY_KEY_PREFIX: prefix });
    const code = await status.exited;

    expect(code).toBe(0);
    const out = status.stdout();
    expect(out).toHaveLength(1);
    expect(Buffer.byteLength(out[0] ?? '')).toBeGreaterThan(2 * 65_536);
    const document = JSON.parse(out[0] ?? '') as { secrets: unknown[] };
    expect(document.secrets).toHaveLength(300);
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
