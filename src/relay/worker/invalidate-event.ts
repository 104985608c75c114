import type { RotationEvent } from '../events/index.js';
import { InvalidInvalidationError, type FastPublishOutcome, type PublishOutcome } from '../../protocol/index.js';
import { SecretNotFoundError, SecretRequestInvalidError, type CurrentVersion } from '../../secrets/index.js';
import { confirmEvent } from './confirm-event.js';
import { fastPublishRequest } from './fast-publish-request.js';
import type { HandleHooks, HandlerDeps, MessageOutcome, ReceivedMessage } from './handle-message.js';
import type { ReceiptLine } from './receipt-line.js';

/**
 * Why this exists: an invalidating event is the one path with real decisions (publish at once or
 * wait, confirm, correct, call it a duplicate), and each decision is a step of its own here, so it
 * can be read and tested on its own: the optional fast publish, the DescribeSecret confirmation
 * (confirm-event.ts), the confirmed publish, and what its reply means for the message.
 */

type InvalidatingEvent = RotationEvent & { secretArn: string };
type Published = Extract<MessageOutcome, { kind: 'published' }>;

/** What one handler shares between its messages. */
export interface InvalidateContext {
  deps: HandlerDeps;
  now: () => number;
  /** The invalidating messages in flight, per secret. */
  line: ReceiptLine;
}

/**
 * Failures that will come back on every receive: an invalidation subscribers would reject (the
 * parser's limits make this a guard, not a path), and a request Secrets Manager refuses as
 * malformed. Access denied is not among them: once the policy is fixed a retry succeeds.
 */
export function isPermanentFailure(error: unknown): error is InvalidInvalidationError | SecretRequestInvalidError {
  return error instanceof InvalidInvalidationError || error instanceof SecretRequestInvalidError;
}

/** Versions a read shows as older than its current one (AWSPREVIOUS, or no label at all). */
export function supersededIn(read: CurrentVersion): string[] {
  if (!read.stagesByVersion) return [];
  return Object.entries(read.stagesByVersion)
    .filter(([id, labels]) => id !== read.versionId && !labels.includes('AWSCURRENT') && !labels.includes('AWSPENDING'))
    .map(([id]) => id);
}

/** The metrics of one publish that reached Redis: count, latency since receipt, age of the event. */
export function recordPublished(ctx: InvalidateContext, message: ReceivedMessage, event: RotationEvent, publishedAt: number): void {
  const { metrics } = ctx.deps;
  metrics.count('InvalidationsPublished');
  metrics.timing('PublishLatencyMs', publishedAt - message.receivedAt);
  const eventTime = event.eventTime ? Date.parse(event.eventTime) : Number.NaN;
  if (Number.isFinite(eventTime)) metrics.timing('EventAgeMs', Math.max(0, publishedAt - eventTime));
}

/** Handles one invalidating event, in line with the other messages about its secret. */
export async function invalidate(ctx: InvalidateContext, event: InvalidatingEvent, message: ReceivedMessage, hooks: HandleHooks): Promise<MessageOutcome> {
  const { metrics, logger } = ctx.deps;
  const key = event.secretName ?? event.secretArn;
  const leave = ctx.line.enter(key, message.receipt ?? 0);
  try {
    return await invalidateInLine(ctx, event, message, hooks, key);
  } catch (error) {
    // Retrying cannot help a message that can never be published: every receive would pay a
    // DescribeSecret and back off until maxReceiveCount. Rejected at once instead, like a body
    // the parser rejects, for the worker to send to the DLQ.
    if (!isPermanentFailure(error)) throw error;
    metrics.count('EventsInvalid');
    logger.warn(
      { messageId: message.messageId, eventId: event.eventId, secretArn: event.secretArn, err: { code: error.code }, reason: error.message },
      'message can never be published; left for the DLQ',
    );
    return { kind: 'rejected', ack: false, code: error instanceof SecretRequestInvalidError ? 'SECRET_REQUEST_INVALID' : 'PROTOCOL_INVALID_INVALIDATION', reason: error.message };
  } finally {
    leave();
  }
}

/** The fast publish, when the event allows one and no older message about the secret is in flight. */
export async function tryFastPublish(ctx: InvalidateContext, event: InvalidatingEvent, message: ReceivedMessage, key: string): Promise<FastPublishOutcome | undefined> {
  const { publishIfNewer } = ctx.deps;
  if (!publishIfNewer) return undefined;
  const request = fastPublishRequest(event);
  if (!request || !ctx.line.firstInLine(key, message.receipt ?? 0)) return undefined;
  return publishIfNewer(request.fields, request.eventTime);
}

function logFieldsOf(event: InvalidatingEvent): Record<string, unknown> {
  return { secretArn: event.secretArn, eventId: event.eventId, eventName: event.eventName ?? event.detailType };
}

async function invalidateInLine(ctx: InvalidateContext, event: InvalidatingEvent, message: ReceivedMessage, hooks: HandleHooks, key: string): Promise<MessageOutcome> {
  const { deps, now } = ctx;
  const { metrics, logger } = deps;
  const secretId = event.secretArn;
  const log = logFieldsOf(event);

  const fast = await tryFastPublish(ctx, event, message, key);
  if (fast?.outcome === 'duplicate-event') {
    metrics.count('DuplicateEvents');
    logger.info(log, 'duplicate event; already handled');
    return { kind: 'duplicate-event', ack: true, secretArn: event.secretArn };
  }
  let fastOutcome: Published | undefined;
  if (fast?.outcome === 'published' && event.versionId !== undefined) {
    const publishedAt = now();
    recordPublished(ctx, message, event, publishedAt);
    metrics.count('SubscribersReached', fast.receivers);
    logger.info(
      { ...log, versionId: event.versionId, receivers: fast.receivers, latencyMs: publishedAt - message.receivedAt, fast: true },
      'invalidation published',
    );
    fastOutcome = { kind: 'published', ack: true, secretArn: event.secretArn, versionId: event.versionId, receivers: fast.receivers, fast: true };
    hooks.decided?.(fastOutcome, event);
  }

  // Confirm with DescribeSecret: always, fast publish or not, before the message is deleted.
  let confirmedEvent;
  try {
    confirmedEvent = await confirmEvent({ ...deps, now }, event, message);
  } catch (error) {
    if (error instanceof SecretNotFoundError) {
      // Deleted between the event and now: nothing to refresh, but an operator must know.
      metrics.count('EventsAlerted');
      logger.warn({ secretId, eventId: event.eventId, err: { code: error.code } }, 'secret no longer exists; event dropped with an alert');
      return fastOutcome ?? { kind: 'alerted', ack: true, reason: error.message };
    }
    throw error;
  }
  const { confirmed, readStartedAt } = confirmedEvent;
  const { current } = confirmed;
  if (confirmed.gaveUp) {
    logger.info(
      { secretArn: current.arn, eventVersionId: event.versionId, currentVersionId: current.versionId, reads: confirmed.reads },
      confirmed.staleBecause === 'published-version'
        ? 'reads kept showing another version than the last published one without knowing that one; publishing what they show'
        : 'event names a version that is not current; treating it as stale',
    );
  }
  const result = await deps.publish(
    {
      secretArn: current.arn,
      secretName: current.name,
      versionId: current.versionId,
      reason: event.eventName ?? event.detailType,
      eventId: event.eventId ?? `sqs-${message.messageId}`,
      eventTime: event.eventTime ?? new Date(message.receivedAt).toISOString(),
    },
    { startedAt: readStartedAt, supersededVersionIds: supersededIn(current) },
  );
  return outcomeOfConfirmedPublish(ctx, { event, message, current, result, fastOutcome, redelivered: fast?.outcome === 'confirm-pending' });
}

export interface ConfirmedPublish {
  event: InvalidatingEvent;
  message: ReceivedMessage;
  /** What DescribeSecret confirmed as AWSCURRENT. */
  current: CurrentVersion;
  /** The publish script's reply for it. */
  result: PublishOutcome;
  /** This message's own fast publish, if it made one. */
  fastOutcome?: Published | undefined;
  /** A fast publish for this event was made before but never confirmed (`confirm-pending`). */
  redelivered: boolean;
}

/** What the confirmed publish's reply means for the message, counted and logged. */
export function outcomeOfConfirmedPublish(ctx: InvalidateContext, publish: ConfirmedPublish): MessageOutcome {
  const { metrics, logger } = ctx.deps;
  const { event, message, current, result, fastOutcome, redelivered } = publish;
  const confirmedLog = { ...logFieldsOf(event), secretArn: current.arn, versionId: current.versionId };

  if (fastOutcome) {
    // Our own fast publish, now confirmed: nothing more unless the read contradicts it.
    if (result.outcome !== 'published') return fastOutcome;
    metrics.count('InvalidationsPublished');
    metrics.count('SubscribersReached', result.receivers);
    logger.warn(
      { ...confirmedLog, fastVersionId: fastOutcome.versionId, receivers: result.receivers },
      'DescribeSecret shows another AWSCURRENT than the event published at once; published a correction',
    );
    return { ...fastOutcome, correction: { versionId: current.versionId, receivers: result.receivers } };
  }
  // A redelivery of a message whose fast publish was made but never confirmed (a crash, a
  // failed read): this delivery confirmed it; unless that changed something, it is a duplicate.
  if (result.outcome === 'duplicate-event' || (redelivered && result.outcome === 'unchanged-version')) {
    metrics.count('DuplicateEvents');
    logger.info(confirmedLog, 'duplicate event; already handled');
    return { kind: 'duplicate-event', ack: true, secretArn: current.arn };
  }
  if (result.outcome === 'unchanged-version') {
    metrics.count('DuplicateEvents');
    logger.info(confirmedLog, 'version already broadcast; nothing to publish');
    return { kind: 'unchanged-version', ack: true, secretArn: current.arn, versionId: current.versionId };
  }
  const publishedAt = ctx.now();
  recordPublished(ctx, message, event, publishedAt);
  metrics.count('SubscribersReached', result.receivers);
  logger.info({ ...confirmedLog, receivers: result.receivers, latencyMs: publishedAt - message.receivedAt }, 'invalidation published');
  return { kind: 'published', ack: true, secretArn: current.arn, versionId: current.versionId, receivers: result.receivers };
}
