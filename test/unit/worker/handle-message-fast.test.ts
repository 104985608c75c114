import { describe, expect, it } from 'vitest';
import type { ConfirmingRead, FastPublishOutcome, Invalidation, PublishOutcome } from '../../../src/protocol/index.js';
import type { CurrentVersion } from '../../../src/secrets/index.js';
import { createMessageHandler, type MessageOutcome, type PublishFields } from '../../../src/relay/worker/handle-message.js';
import { ARN, NAME, VERSION, apiCall, body, labelUpdated, serviceEvent } from '../../support/event-fixtures.js';
import { captureLogger } from '../../support/log-capture.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';

/** The fast path of the message handler: publish first, confirm with DescribeSecret, correct. */

const OLD = '00000000-0000-0000-0000-000000000000';
const EVENT_TIME = Date.parse('2025-01-02T03:04:05Z');

function read(versionId: string, stages: Record<string, string[]> = { [versionId]: ['AWSCURRENT'] }): CurrentVersion {
  return { arn: ARN, name: NAME, versionId, stagesByVersion: stages };
}

function published(versionId: string): Invalidation {
  return {
    v: 1,
    id: '00000000-0000-4000-8000-000000000001',
    secretArn: ARN,
    secretName: NAME,
    versionId,
    reason: 'earlier',
    eventId: 'evt-earlier',
    eventTime: '2025-01-01T00:00:00Z',
    publishedAt: '2025-01-01T00:00:01Z',
  };
}

/** A DescribeSecret double whose answers the test releases, so it can look in between. */
function gatedDescribe(answers: CurrentVersion[]) {
  const waiting: Array<() => void> = [];
  let calls = 0;
  const describe = (): Promise<CurrentVersion> => {
    const answer = answers[Math.min(calls, answers.length - 1)] as CurrentVersion;
    calls += 1;
    return new Promise((resolve) => waiting.push(() => resolve(answer)));
  };
  const releaseAll = async (): Promise<void> => {
    // Release reads as they come, until none is pending for a few turns of the event loop.
    for (let idle = 0; idle < 5; idle += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      while (waiting.length > 0) {
        idle = 0;
        waiting.shift()?.();
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  };
  return { describe, releaseAll, calls: () => calls, pending: () => waiting.length };
}

interface Options {
  fast: FastPublishOutcome;
  answers: CurrentVersion[];
  stored?: string;
  confirmResult?: PublishOutcome;
}

function setup(options: Options) {
  const metrics = new MetricsRecorderDouble();
  const log = captureLogger({ component: 'worker-test' });
  const reads = gatedDescribe(options.answers);
  const order: string[] = [];
  const fastCalls: Array<{ fields: PublishFields; eventTime: number }> = [];
  const publishCalls: Array<{ fields: PublishFields; confirmedBy?: ConfirmingRead }> = [];
  let stored = options.stored;
  const handle = createMessageHandler({
    describe: () => {
      order.push('describe');
      return reads.describe();
    },
    lastPublished: async () => (stored ? published(stored) : undefined),
    publishIfNewer: async (fields, eventTime) => {
      order.push('fast');
      fastCalls.push({ fields, eventTime });
      if (options.fast.outcome === 'published') stored = fields.versionId;
      return options.fast;
    },
    publish: async (fields, confirmedBy) => {
      order.push('publish');
      publishCalls.push({ fields, ...(confirmedBy ? { confirmedBy } : {}) });
      if (options.confirmResult) return options.confirmResult;
      if (stored === fields.versionId) return { outcome: 'unchanged-version', publishedVersionId: stored };
      stored = fields.versionId;
      return { outcome: 'published', receivers: 2 };
    },
    metrics,
    logger: log.logger,
    confirmWindowMs: 1_000,
    confirmIntervalMs: 100,
    sleep: async () => undefined,
    now: () => EVENT_TIME + 500,
  });
  return { handle, metrics, log, reads, order, fastCalls, publishCalls };
}

function received(messageBody: string, receipt = 1) {
  return { body: messageBody, messageId: 'msg-1', receivedAt: EVENT_TIME + 400, receipt };
}

const labelEvent = () => body(labelUpdated({ versionId: VERSION }));

describe('createMessageHandler: fast publish', () => {
  it('reports a published outcome before DescribeSecret answers, then confirms before resolving', async () => {
    const { handle, reads, order, fastCalls, metrics } = setup({ fast: { outcome: 'published', receivers: 3 }, answers: [read(VERSION)] });
    const decided: MessageOutcome[] = [];

    const done = handle(received(labelEvent()), { decided: (outcome) => decided.push(outcome) });
    await new Promise((resolve) => setImmediate(resolve));

    expect(decided).toEqual([{ kind: 'published', ack: true, secretArn: ARN, versionId: VERSION, receivers: 3, fast: true }]);
    expect(reads.pending()).toBe(1);
    expect(fastCalls[0]).toMatchObject({ fields: { secretArn: ARN, secretName: NAME, versionId: VERSION, eventId: 'evt-0001' }, eventTime: EVENT_TIME });
    await reads.releaseAll();
    expect(await done).toEqual(decided[0]);
    expect(order).toEqual(['fast', 'describe', 'publish']);
    expect(metrics.total('InvalidationsPublished')).toBe(1);
    expect(metrics.timings('PublishLatencyMs')).toEqual([100]);
  });

  it('publishes a correction when DescribeSecret shows that the version was superseded', async () => {
    const superseded = read(OLD, { [OLD]: ['AWSCURRENT'], [VERSION]: ['AWSPREVIOUS'] });
    const { handle, reads, publishCalls, log, metrics } = setup({ fast: { outcome: 'published', receivers: 3 }, answers: [superseded] });

    const done = handle(received(labelEvent()));
    await reads.releaseAll();
    const outcome = await done;

    expect(outcome).toMatchObject({ kind: 'published', fast: true, versionId: VERSION, correction: { versionId: OLD, receivers: 2 } });
    expect(publishCalls).toHaveLength(1);
    expect(publishCalls[0]?.fields.versionId).toBe(OLD);
    expect(publishCalls[0]?.confirmedBy).toEqual({ startedAt: EVENT_TIME + 500, supersededVersionIds: [VERSION] });
    expect(metrics.total('InvalidationsPublished')).toBe(2);
    expect(log.records().some((r) => String(r.msg).includes('published a correction'))).toBe(true);
  });

  it('re-reads rather than correcting when the read does not know the fast-published version yet', async () => {
    const stale = read(OLD, { [OLD]: ['AWSCURRENT'], [VERSION]: ['AWSPENDING'] });
    const { handle, reads, publishCalls } = setup({ fast: { outcome: 'published', receivers: 3 }, answers: [stale, read(VERSION, { [VERSION]: ['AWSCURRENT'], [OLD]: ['AWSPREVIOUS'] })] });

    const done = handle(received(labelEvent()));
    await reads.releaseAll();
    const outcome = await done;

    expect(reads.calls()).toBe(2);
    expect(outcome).not.toHaveProperty('correction');
    expect(publishCalls.map((c) => c.fields.versionId)).toEqual([VERSION]);
  });

  it.each<[string, FastPublishOutcome]>([
    ['not newer', { outcome: 'not-newer', why: 'older' }],
    ['a known older version', { outcome: 'not-newer', why: 'known' }],
    ['already published', { outcome: 'unchanged-version', publishedVersionId: VERSION }],
  ])('takes the DescribeSecret path when the script says %s', async (_case, fast) => {
    const { handle, reads, order } = setup({ fast, answers: [read(VERSION)], stored: OLD });
    const decided: MessageOutcome[] = [];

    const done = handle(received(labelEvent()), { decided: (outcome) => decided.push(outcome) });
    await reads.releaseAll();
    const outcome = await done;

    expect(order).toEqual(['fast', 'describe', 'publish']);
    expect(outcome).toEqual({ kind: 'published', ack: true, secretArn: ARN, versionId: VERSION, receivers: 2 });
    expect(decided).toEqual([outcome]);
  });

  it('answers duplicate-event without reading when the event was fully handled before', async () => {
    const { handle, order, metrics } = setup({ fast: { outcome: 'duplicate-event' }, answers: [read(VERSION)] });

    const outcome = await handle(received(labelEvent()));

    expect(outcome).toEqual({ kind: 'duplicate-event', ack: true, secretArn: ARN });
    expect(order).toEqual(['fast']);
    expect(metrics.total('DuplicateEvents')).toBe(1);
  });

  it('confirms a redelivered fast publish that was never confirmed, and calls it a duplicate when nothing changed', async () => {
    const { handle, reads, order } = setup({ fast: { outcome: 'confirm-pending' }, answers: [read(VERSION)], stored: VERSION });

    const done = handle(received(labelEvent()));
    await reads.releaseAll();

    expect(await done).toEqual({ kind: 'duplicate-event', ack: true, secretArn: ARN });
    expect(order).toEqual(['fast', 'describe', 'publish']);
  });

  it.each([
    ['RotationSucceeded (no version of its own)', () => body(serviceEvent('RotationSucceeded', { additionalEventData: { SecretId: ARN } }))],
    ['a PutSecretValue that made its version current', () => body(apiCall('PutSecretValue', { responseElements: { arn: ARN, versionId: VERSION } }))],
    ['an UpdateSecretVersionStage naming the secret only as the caller did', () =>
      body(apiCall('UpdateSecretVersionStage', { requestParameters: { secretId: NAME, versionStage: 'AWSCURRENT', moveToVersionId: VERSION }, responseElements: {} }))],
  ])('never publishes %s at once', async (_case, event) => {
    const { handle, reads, fastCalls } = setup({ fast: { outcome: 'published', receivers: 1 }, answers: [read(VERSION)] });

    const done = handle(received(event()));
    await reads.releaseAll();
    await done;

    expect(fastCalls).toEqual([]);
  });

  it('publishes an UpdateSecretVersionStage moving AWSCURRENT at once when AWS named the ARN', async () => {
    const { handle, reads, fastCalls } = setup({ fast: { outcome: 'published', receivers: 1 }, answers: [read(VERSION)] });
    const event = apiCall('UpdateSecretVersionStage', {
      requestParameters: { secretId: NAME, versionStage: 'AWSCURRENT', moveToVersionId: VERSION },
      responseElements: { arn: ARN },
    });

    const done = handle(received(body(event)));
    await reads.releaseAll();
    await done;

    expect(fastCalls.map((c) => c.fields.versionId)).toEqual([VERSION]);
  });

  it('waits for DescribeSecret while a message of the same secret from an earlier receive is still being handled', async () => {
    const { handle, reads, fastCalls } = setup({ fast: { outcome: 'published', receivers: 1 }, answers: [read(VERSION)] });
    const earlier = handle(received(body(serviceEvent('RotationSucceeded', { additionalEventData: { SecretId: ARN } })), 1));
    const sameReceive = handle(received(labelEvent(), 1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(fastCalls).toHaveLength(1);

    const later = handle(received(body(labelUpdated({ versionId: VERSION })), 2));
    await reads.releaseAll();
    await Promise.all([earlier, sameReceive, later]);

    expect(fastCalls).toHaveLength(1);
  });
});
