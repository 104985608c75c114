import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/index.js';
import type { Invalidation, PublishOutcome } from '../protocol/index.js';
import { parseEventBody, type RotationEvent } from '../events/index.js';
import { SecretNotFoundError, type CurrentVersion } from '../secrets/index.js';
import { confirmCurrentVersion } from './confirm-current-version.js';

/** What became of one SQS message; `ack` says whether it may be deleted from the queue. */
export type MessageOutcome =
  | { kind: 'published'; ack: true; secretArn: string; versionId: string; receivers: number }
  | { kind: 'duplicate-event'; ack: true; secretArn: string }
  | { kind: 'unchanged-version'; ack: true; secretArn: string; versionId: string }
  | { kind: 'ignored'; ack: true; reason: string }
  | { kind: 'alerted'; ack: true; reason: string }
  | { kind: 'rejected'; ack: false; reason: string };

export interface ReceivedMessage {
  body: string;
  messageId: string;
  /** When this worker received the message (ms since epoch): the start of PublishLatencyMs. */
  receivedAt: number;
}

export interface HandlerDeps {
  describe(secretId: string): Promise<CurrentVersion>;
  lastPublished(secretArn: string): Promise<Invalidation | undefined>;
  /** Signs and publishes through the protocol's all-or-nothing script. */
  publish(invalidation: Omit<Invalidation, 'v' | 'id' | 'publishedAt' | 'sig'>): Promise<PublishOutcome>;
  metrics: Metrics;
  logger: Logger;
  confirmWindowMs: number;
  confirmIntervalMs: number;
  now?: () => number;
  /** Pause between DescribeSecret re-reads; injectable so tests need no real time. */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * One SQS body in, one outcome out. Transient failures (Redis or Secrets Manager unreachable)
 * throw, so the message stays on the queue and comes back; a body we cannot understand is
 * `rejected` and not acknowledged, so the queue's redrive policy moves it to the DLQ. Nothing
 * here reads or logs a secret value: the worker only ever calls DescribeSecret.
 */
export function createMessageHandler(deps: HandlerDeps): (message: ReceivedMessage) => Promise<MessageOutcome> {
  const now = deps.now ?? Date.now;
  const { metrics, logger } = deps;

  async function invalidate(event: RotationEvent & { secretArn: string }, message: ReceivedMessage): Promise<MessageOutcome> {
    const secretId = event.secretArn;
    let confirmed;
    try {
      // The versions hash is keyed by full ARN, and an API-call event may carry only the name
      // the caller used: read once first to learn the ARN, then compare.
      const firstRead = await deps.describe(secretId);
      const lastKnown = await deps.lastPublished(firstRead.arn);
      confirmed = await confirmCurrentVersion({
        describe: () => deps.describe(secretId),
        firstRead,
        ...(event.versionId ? { eventVersionId: event.versionId } : {}),
        ...(lastKnown?.versionId ? { lastPublishedVersionId: lastKnown.versionId } : {}),
        windowMs: deps.confirmWindowMs,
        intervalMs: deps.confirmIntervalMs,
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
      });
    } catch (error) {
      if (error instanceof SecretNotFoundError) {
        // Deleted between the event and now: nothing to refresh, but an operator must know.
        metrics.count('EventsAlerted');
        logger.warn({ secretId, eventId: event.eventId, err: { code: error.code } }, 'secret no longer exists; event dropped with an alert');
        return { kind: 'alerted', ack: true, reason: error.message };
      }
      throw error;
    }
    const { current } = confirmed;
    if (confirmed.gaveUp) {
      logger.info(
        { secretArn: current.arn, eventVersionId: event.versionId, currentVersionId: current.versionId, reads: confirmed.reads },
        'event names a version that is not current; treating it as stale',
      );
    }
    const result = await deps.publish({
      secretArn: current.arn,
      secretName: current.name,
      versionId: current.versionId,
      reason: event.eventName ?? event.detailType,
      eventId: event.eventId ?? `sqs-${message.messageId}`,
      eventTime: event.eventTime ?? new Date(message.receivedAt).toISOString(),
    });
    const log = { secretArn: current.arn, versionId: current.versionId, eventId: event.eventId, eventName: event.eventName ?? event.detailType };
    if (result.outcome === 'duplicate-event') {
      metrics.count('DuplicateEvents');
      logger.info(log, 'duplicate event; already handled');
      return { kind: 'duplicate-event', ack: true, secretArn: current.arn };
    }
    if (result.outcome === 'unchanged-version') {
      metrics.count('DuplicateEvents');
      logger.info(log, 'version already broadcast; nothing to publish');
      return { kind: 'unchanged-version', ack: true, secretArn: current.arn, versionId: current.versionId };
    }
    const publishedAt = now();
    metrics.count('InvalidationsPublished');
    metrics.count('SubscribersReached', result.receivers);
    metrics.timing('PublishLatencyMs', publishedAt - message.receivedAt);
    const eventTime = event.eventTime ? Date.parse(event.eventTime) : Number.NaN;
    if (Number.isFinite(eventTime)) metrics.timing('EventAgeMs', Math.max(0, publishedAt - eventTime));
    logger.info({ ...log, receivers: result.receivers, latencyMs: publishedAt - message.receivedAt }, 'invalidation published');
    return { kind: 'published', ack: true, secretArn: current.arn, versionId: current.versionId, receivers: result.receivers };
  }

  return async function handleMessage(message: ReceivedMessage): Promise<MessageOutcome> {
    metrics.count('EventsReceived');
    const parsed = parseEventBody(message.body);
    switch (parsed.action) {
      case 'reject':
        metrics.count('EventsInvalid');
        // The reason names what is wrong with the shape; the body itself is not logged
        // (it is untrusted and could be large or hostile).
        logger.warn({ messageId: message.messageId, eventId: parsed.eventId, reason: parsed.reason }, 'message rejected; left for the DLQ');
        return { kind: 'rejected', ack: false, reason: parsed.reason };
      case 'ignore':
        metrics.count('EventsIgnored');
        logger.debug({ messageId: message.messageId, eventId: parsed.eventId, reason: parsed.reason }, 'event ignored');
        return { kind: 'ignored', ack: true, reason: parsed.reason };
      case 'alert': {
        const rotationFailure = parsed.eventName === 'RotationFailed' || parsed.eventName === 'RotationAbandoned';
        metrics.count(rotationFailure ? 'RotationFailures' : 'EventsAlerted');
        logger.warn(
          { secretArn: parsed.secretArn, eventId: parsed.eventId, eventName: parsed.eventName, reason: parsed.reason },
          rotationFailure ? 'rotation failed' : 'secret alert',
        );
        return { kind: 'alerted', ack: true, reason: parsed.reason };
      }
      case 'invalidate': {
        if (!parsed.secretArn) {
          // The parser guarantees an id for invalidations; this guards the contract, not a real path.
          metrics.count('EventsInvalid');
          return { kind: 'rejected', ack: false, reason: 'invalidation without a secret id' };
        }
        return invalidate({ ...parsed, secretArn: parsed.secretArn }, message);
      }
    }
  };
}
