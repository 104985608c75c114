import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Invalidation } from '../../../src/protocol/index.js';
import { createCredentialCache, type CredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { RelayWorker } from '../../../src/relay/worker/relay-worker.js';
import { startAwsProxyDouble, type Fault, type AwsProxyDouble } from '../../support/aws-proxy-double.js';
import { isRegisteredSecret } from '../../support/leak-guard.js';
import { captureLogger } from '../../support/log-capture.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';

const DESCRIBE = 'secretsmanager.DescribeSecret';
const GET_VALUE = 'secretsmanager.GetSecretValue';

/** The two ways Secrets Manager refuses to answer: a 5xx, and throttling (HTTP 400). */
const SERVER_ERROR: Fault = { status: 500, errorType: 'InternalServiceError' };
const THROTTLED: Fault = { status: 400, errorType: 'ThrottlingException' };
const REFUSALS: ReadonlyArray<[string, Fault]> = [
  ['a 500 InternalServiceError', SERVER_ERROR],
  ['a 400 ThrottlingException', THROTTLED],
];
/** For the worker, also how many deliveries fail before the fault is lifted (3 show the backoff grow). */
const WORKER_REFUSALS: ReadonlyArray<[string, Fault, number]> = [
  ['a 500 InternalServiceError', SERVER_ERROR, 3],
  ['a 400 ThrottlingException', THROTTLED, 2],
];

/**
 * Failure contract, "Secrets Manager throttling / 5xx → last good credentials keep serving;
 * backoff; no crash", on real services: moto_server answers Secrets Manager behind the fault
 * proxy double, which turns chosen calls into 5xx, throttling or slow answers. Both sides: the
 * worker (DescribeSecret) and the subscriber SDK's CredentialCache (GetSecretValue).
 */
describe('Secrets Manager failing: 5xx, throttling, slow (moto_server behind the fault proxy double)', () => {
  let fixture: RelayFixture;
  let proxy: AwsProxyDouble;
  let worker: RelayWorker;
  let workerSecrets: SecretsManagerClient;
  let received: Invalidation[];
  const outcomes: MessageOutcome[] = [];
  const retries: Array<{ at: number; error: Error; message: Message }> = [];
  const apps: Array<{ cache: CredentialCache; client: SecretsManagerClient }> = [];

  beforeAll(async () => {
    // Redelivery must outlast several failed attempts without the redrive policy stepping in.
    fixture = await RelayFixture.start({ maxReceiveCount: 10, visibilityTimeoutSeconds: 4 });
    proxy = await startAwsProxyDouble(fixture.moto.endpoint);
    // What createSecretsClient builds for the worker (3 attempts, the SDK's standard backoff),
    // pointed at the proxy.
    workerSecrets = new SecretsManagerClient({ endpoint: proxy.endpoint, region: fixture.moto.region, credentials: { ...fixture.moto.credentials }, maxAttempts: 3 });
    // Visibility 4 s: a failed message comes back after 2 s, then 4 s (2^receives, capped).
    worker = new RelayWorker(fixture.config({ ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS: '4' }), {
      sqs: fixture.sqs,
      secrets: workerSecrets,
      logger: fixture.logs.logger,
    });
    worker.on('outcome', (outcome) => outcomes.push(outcome));
    worker.on('retry', (error, message) => retries.push({ at: Date.now(), error, message }));
    await worker.start();
    received = await fixture.listen();
  });

  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app.cache.stop()));
    for (const app of apps) app.client.destroy();
    await worker?.stop();
    workerSecrets?.destroy();
    await proxy?.stop();
    await fixture?.stop();
  });

  const retriesFor = (arn: string) => retries.filter((retry) => retry.message.Body?.includes(arn));
  const broadcastsFor = (arn: string) => received.filter((invalidation) => invalidation.secretArn === arn);

  async function dlqDepth(): Promise<number> {
    const { Attributes } = await fixture.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: fixture.queue.dlqUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  describe('the worker (DescribeSecret)', () => {
    it.each(WORKER_REFUSALS)('keeps the message on the queue while DescribeSecret answers %s, backs off, and publishes once it recovers', async (label, fault, deliveries) => {
      const secret = await fixture.createSecret('faults/worker');
      const version = await fixture.secrets.rotate(secret);
      proxy.setFault((action) => (action === DESCRIBE ? fault : undefined));

      await fixture.send(labelUpdatedEvent(secret.arn, version));

      // Failed deliveries at t0, t0 + 2 s, t0 + 6 s …: visibility 2, then 4 s (2^receives, capped).
      await waitUntil(() => retriesFor(secret.arn).length >= deliveries, { message: `${deliveries} failed deliveries of the message`, timeoutMs: 20_000 });
      proxy.setFault(() => undefined);
      const failed = retriesFor(secret.arn);
      expect(failed.every(({ error }) => (error as { code?: unknown }).code === 'SECRETS_MANAGER_UNAVAILABLE')).toBe(true);
      const times = failed.map((retry) => retry.at);
      const gaps = times.slice(1).map((at, i) => at - (times[i] ?? at));
      expect(gaps[0]).toBeGreaterThanOrEqual(1_500);
      if (gaps.length > 1) expect(gaps[1]).toBeGreaterThan((gaps[0] ?? 0) * 1.4);
      expect(worker.status.running).toBe(true);
      expect(broadcastsFor(secret.arn)).toEqual([]);

      await fixture.until(() => broadcastsFor(secret.arn).length === 1, 'the broadcast once DescribeSecret answers again', 20_000);

      expect(broadcastsFor(secret.arn)[0]?.versionId).toBe(version);
      expect(outcomes.filter((o) => o.kind === 'published' && o.secretArn === secret.arn)).toHaveLength(1);
      expect(await dlqDepth()).toBe(0);
      process.stdout.write(`[sm faults] worker, DescribeSecret ${label}: ${failed.length} failed deliveries, gaps ${gaps.join(' / ')} ms, then published once\n`);
    });

    it('waits out a slow DescribeSecret (1.5 s per call) without a retry or a duplicate', async () => {
      const secret = await fixture.createSecret('faults/slow');
      const version = await fixture.secrets.rotate(secret);
      proxy.setFault((action) => (action === DESCRIBE ? { delayMs: 1_500 } : undefined));
      const sentAt = Date.now();
      try {
        await fixture.send(labelUpdatedEvent(secret.arn, version));

        await fixture.until(() => broadcastsFor(secret.arn).length === 1, 'the broadcast despite the slow answers', 15_000);
      } finally {
        proxy.setFault(() => undefined);
      }

      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1_500);
      expect(broadcastsFor(secret.arn)[0]?.versionId).toBe(version);
      expect(retriesFor(secret.arn)).toEqual([]);
    });
  });

  describe('a CredentialCache (GetSecretValue)', () => {
    /** An app instance reading through the proxy, one attempt per call: the cache's own backoff is under test. */
    async function startApp(secretName: string): Promise<CredentialCache> {
      const client = new SecretsManagerClient({ endpoint: proxy.endpoint, region: fixture.moto.region, credentials: { ...fixture.moto.credentials }, maxAttempts: 1 });
      const cache = createCredentialCache({
        secrets: { db: { secretId: secretName, json: true } },
        redis: { url: fixture.redis.url, cluster: false, keyPrefix: 'rotation-relay' },
        signingKeys: fixture.signingKeys,
        secretsClient: client,
        backoff: { minMs: 200, maxMs: 800 },
        logger: captureLogger({ component: 'cache' }).logger,
      });
      apps.push({ cache, client });
      await cache.start();
      await waitUntil(() => cache.status().pubsub.connected, { message: 'the cache subscribed' });
      return cache;
    }

    it.each(REFUSALS)('keeps serving the last good value while GetSecretValue answers %s, backs off, and recovers', async (_label, fault) => {
      const secret = await fixture.createSecret('faults/cache');
      const cache = await startApp(secret.name);
      const oldValue = cache.get<{ password: string }>('db');
      expect(isRegisteredSecret(secret.values[0] ?? '')).toBe(true);
      proxy.setFault((action) => (action === GET_VALUE ? fault : undefined));
      const readsBefore = proxy.counts().get(GET_VALUE) ?? 0;

      const newVersion = await fixture.secrets.rotate(secret);
      await fixture.send(labelUpdatedEvent(secret.arn, newVersion));

      await waitUntil(() => (cache.status().secrets['db']?.failures ?? 0) >= 1, { message: 'the first failed refresh', timeoutMs: 15_000 });
      const faultStart = Date.now();
      expect(cache.get('db')).toEqual(oldValue);
      await waitUntil(() => (cache.status().secrets['db']?.failures ?? 0) >= 4, { message: 'retries with backoff', timeoutMs: 10_000 });
      const faultMs = Date.now() - faultStart;
      const status = cache.status().secrets['db'];
      expect(status).toMatchObject({ versionId: cache.current('db').versionId, source: 'secrets-manager', lastError: { code: 'SECRETS_MANAGER_UNAVAILABLE' } });
      expect(status?.versionId).not.toBe(newVersion);
      expect(status?.nextRetryInMs).toBeGreaterThanOrEqual(0);
      expect(status?.nextRetryInMs).toBeLessThanOrEqual(800);
      expect(cache.get('db')).toEqual(oldValue);
      // Backoff, not a hot loop: at most one read per 200 ms (the minimum delay), plus the first.
      const readsDuringFault = (proxy.counts().get(GET_VALUE) ?? 0) - readsBefore;
      expect(readsDuringFault).toBeLessThanOrEqual(Math.ceil(faultMs / 200) + 2);

      proxy.setFault(() => undefined);

      await waitUntil(() => cache.current('db').versionId === newVersion, { message: 'the refresh once Secrets Manager answers', timeoutMs: 5_000 });
      expect(cache.get<{ password: string }>('db').password).toBe(JSON.parse(secret.values.at(-1) ?? '{}').password);
      expect(cache.status().secrets['db']?.nextRetryInMs).toBeUndefined();
      expect(cache.status().running).toBe(true);
      process.stdout.write(`[sm faults] cache, GetSecretValue ${_label}: ${status?.failures} failed refreshes in ${faultMs} ms, ${readsDuringFault} reads, then recovered\n`);
    });

    it('keeps serving the last good value during a slow GetSecretValue (1 s) and switches when it arrives', async () => {
      const secret = await fixture.createSecret('faults/cache-slow');
      const cache = await startApp(secret.name);
      const oldValue = cache.get('db');
      proxy.setFault((action) => (action === GET_VALUE ? { delayMs: 1_000 } : undefined));
      try {
        const newVersion = await fixture.secrets.rotate(secret);
        await fixture.send(labelUpdatedEvent(secret.arn, newVersion));

        await waitUntil(() => cache.status().counts.invalidationsReceived >= 1, { message: 'the invalidation', timeoutMs: 15_000 });
        expect(cache.get('db')).toEqual(oldValue);
        await waitUntil(() => cache.current('db').versionId === newVersion, { message: 'the slow read to land', timeoutMs: 5_000 });
      } finally {
        proxy.setFault(() => undefined);
      }
      expect(cache.status().secrets['db']?.failures).toBe(0);
    });
  });
});
