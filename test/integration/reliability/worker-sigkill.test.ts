import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocolKeys, verifyInvalidation, type Invalidation } from '../../../src/protocol/index.js';
import { runCliProcess, type CliProcess } from '../../support/cli-process.js';
import { startAwsProxyDouble, type AwsProxyDouble } from '../../support/aws-proxy-double.js';
import type { TestSecret } from '../../support/moto-secrets.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';

const SECRETS = 12;
/** DescribeSecret calls answered quickly; every later one is held far beyond the kill. */
const FAST_DESCRIBES = 4;
const KEYS = protocolKeys('rotation-relay');

/**
 * Failure contract, "worker killed mid-batch → unacked messages redelivered; dedupe makes the
 * second publish a no-op", with the worker as a real process (tsx src/ops/cli/main.ts worker) and
 * SIGKILL: no shutdown hook runs. fauxqs is the queue (visibility 2 s), moto_server answers
 * Secrets Manager; both sit behind fault proxy doubles so the moment of the kill is not luck:
 * - one batch of 10 is received; 4 DescribeSecret calls answer at once, the other 6 are held,
 *   so those 6 messages are surely mid-batch when the process dies;
 * - deletes (DeleteMessage and DeleteMessageBatch) fail (HTTP 500) for that first process, so the
 *   4 messages it did publish are still on the queue when it dies, however the worker groups its
 *   deletes: the "published, not yet acknowledged" window of a crash, made certain instead of
 *   hoping SIGKILL lands inside it.
 * One consumer loop (ROTATION_RELAY_CONSUMERS=1), so the first receive is that one batch of 10.
 * A second worker then gets all 12 after the visibility timeout: the 4 already published must be
 * duplicate-event no-ops, the rest published once.
 */
describe('worker SIGKILLed mid-batch (CLI process, fauxqs, moto_server, redis-server)', () => {
  let fixture: RelayFixture;
  let smProxy: AwsProxyDouble;
  let sqsProxy: AwsProxyDouble;
  let reader: Redis;
  const processes: CliProcess[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start({ maxReceiveCount: 5, visibilityTimeoutSeconds: 2 });
    [smProxy, sqsProxy] = await Promise.all([startAwsProxyDouble(fixture.moto.endpoint), startAwsProxyDouble(fixture.fauxqs.endpoint)]);
    reader = new Redis(fixture.redis.url);
  });

  afterAll(async () => {
    for (const worker of processes) worker.signal('SIGKILL');
    await Promise.allSettled(processes.map((worker) => worker.exited));
    reader?.disconnect();
    await Promise.allSettled([smProxy?.stop(), sqsProxy?.stop()]);
    await fixture?.stop();
  });

  function startWorker(): CliProcess {
    const worker = runCliProcess(['worker'], {
      ...fixture.env({ ROTATION_RELAY_BATCH_SIZE: '10', ROTATION_RELAY_CONSUMERS: '1', ROTATION_RELAY_CONFIRM_WINDOW_MS: '200' }),
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_ENDPOINT_URL_SQS: sqsProxy.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: smProxy.endpoint,
    });
    processes.push(worker);
    return worker;
  }

  async function queueDepth(): Promise<{ visible: number; inFlight: number }> {
    const { Attributes } = await fixture.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: fixture.queue.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return { visible: Number(Attributes?.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) };
  }

  const lines = (worker: CliProcess, msg: string) => worker.stdout().filter((line) => line.includes(`"msg":"${msg}"`));

  it('redelivers what the killed worker left unacknowledged, and the second publish of an event is a no-op', async () => {
    const received = await fixture.listen();
    const secrets: TestSecret[] = [];
    const versions = new Map<string, string>();
    for (let i = 0; i < SECRETS; i += 1) {
      const secret = await fixture.createSecret('sigkill/db');
      versions.set(secret.arn, await fixture.secrets.rotate(secret));
      secrets.push(secret);
    }
    // Queued before the worker starts, so its first receive is one full batch of 10.
    for (const secret of secrets) await fixture.send(labelUpdatedEvent(secret.arn, versions.get(secret.arn) ?? ''));
    let describes = 0;
    smProxy.setFault((action) => (action.endsWith('.DescribeSecret') ? { delayMs: ++describes <= FAST_DESCRIBES ? 50 : 30_000 } : undefined));
    const deletes = /\.DeleteMessage(Batch)?$/;
    sqsProxy.setFault((action) => (deletes.test(action) ? { status: 500, errorType: 'InternalError' } : undefined));

    const first = startWorker();
    await first.waitForLine('stdout', (line) => line.includes('"worker started"'), 'the first worker to start', 20_000);
    await waitUntil(() => lines(first, 'invalidation published').length === FAST_DESCRIBES, {
      message: 'the first worker to publish 4 and fail to acknowledge them, with 6 more held mid-batch',
      timeoutMs: 20_000,
    });
    expect(describes).toBe(10);
    first.signal('SIGKILL');

    expect(await first.exited).toBe('SIGKILL');
    smProxy.setFault(() => undefined);
    sqsProxy.setFault(() => undefined);
    // Nothing was deleted: the batch of 10 is in flight (hidden until its visibility timeout runs
    // out, 2 s after the last heartbeat of the dead process), the other 2 were never received.
    expect(await queueDepth()).toEqual({ visible: SECRETS - 10, inFlight: 10 });
    expect(new Set(received.map((i) => i.secretArn)).size).toBe(FAST_DESCRIBES);

    const second = startWorker();
    await fixture.until(() => new Set(received.map((i) => i.secretArn)).size === SECRETS, 'every secret broadcast after the redelivery', 30_000);
    await fixture.until(async () => {
      const depth = await queueDepth();
      return depth.visible + depth.inFlight === 0;
    }, 'the queue to drain', 20_000);

    // Each secret's version was broadcast exactly once, by one worker or the other.
    for (const secret of secrets) {
      const broadcasts = received.filter((i) => i.secretArn === secret.arn);
      expect(broadcasts.map((i) => i.versionId)).toEqual([versions.get(secret.arn)]);
      const stored = await reader.hget(KEYS.versions, secret.arn);
      const verified = verifyInvalidation(stored ?? '', { keys: fixture.signingKeys, maxAgeMs: Infinity });
      expect(verified.ok && (verified.invalidation as Invalidation).id).toBe(broadcasts[0]?.id);
    }
    expect(lines(first, 'invalidation published')).toHaveLength(FAST_DESCRIBES);
    expect(lines(second, 'invalidation published')).toHaveLength(SECRETS - FAST_DESCRIBES);
    // The 4 the first worker published came back and hit the event-id guard.
    expect(lines(second, 'duplicate event; already handled')).toHaveLength(FAST_DESCRIBES);
    second.signal('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
