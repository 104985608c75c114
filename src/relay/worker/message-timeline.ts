import type { Message } from '@aws-sdk/client-sqs';
import type { RotationEvent } from '../events/index.js';
import { recordTimeline, type TimelineEntry } from '../../sdk/fleet/index.js';
import type { Logger, RedisClient } from '../../common/index.js';
import type { MessageOutcome } from './handle-message.js';

/**
 * Why this exists: `rotation-relay drill` shows, per secret, when an event reached the worker and
 * what came of it. Writing that down is best effort and must never delay or fail the message, so
 * it is kept apart from the handling: an entry is built from what the handler decided and the
 * event as it parsed it (no second parse), and its write is not awaited.
 */

/** The timeline entry for an outcome, or undefined for outcomes the timeline does not show. */
export function timelineEntry(
  outcome: MessageOutcome,
  event: RotationEvent | undefined,
  message: Message,
  receivedAt: number,
  handledAt: number,
): (TimelineEntry & { secretArn: string }) | undefined {
  if (outcome.kind !== 'published' && outcome.kind !== 'unchanged-version' && outcome.kind !== 'duplicate-event') return undefined;
  const sent = Number(message.Attributes?.SentTimestamp);
  return {
    secretArn: outcome.secretArn,
    receivedAt,
    handledAt,
    ...(Number.isFinite(sent) && sent > 0 ? { enqueuedAt: sent } : {}),
    outcome: outcome.kind,
    ...('versionId' in outcome ? { versionId: outcome.versionId } : {}),
    ...(outcome.kind === 'published' ? { receivers: outcome.receivers } : {}),
    ...(event ? { eventName: event.eventName ?? event.detailType, ...(event.eventId ? { eventId: event.eventId } : {}), ...(event.eventTime ? { eventTime: event.eventTime } : {}) } : {}),
  };
}

export interface TimelineTarget {
  /** The worker's connection, once there is one. */
  redis: () => RedisClient | undefined;
  keyPrefix: string;
  logger: Logger;
  now?: () => number;
}

/**
 * Best effort, never delays or fails the message: when the event reached the worker and what
 * came of it, in `{P}:timeline:<secretArn>`, for `rotation-relay drill`.
 */
export function recordMessageTimeline(target: TimelineTarget, outcome: MessageOutcome, event: RotationEvent | undefined, message: Message, receivedAt: number): void {
  const redis = target.redis();
  if (!redis) return;
  const found = timelineEntry(outcome, event, message, receivedAt, (target.now ?? Date.now)());
  if (!found) return;
  const { secretArn, ...entry } = found;
  recordTimeline(redis, target.keyPrefix, secretArn, entry).catch((error: unknown) => {
    target.logger.debug({ err: { name: error instanceof Error ? error.name : 'unknown' } }, 'timeline entry not recorded');
  });
}
