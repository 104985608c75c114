import type { RotationEvent } from '../events/index.js';
import { isSecretsManagerArn } from '../../secrets/index.js';
import type { PublishFields } from './handle-message.js';

/**
 * Why this exists: the fast path publishes before DescribeSecret answers, so it may do so only
 * for an event that says by itself everything the invalidation needs: that version V became
 * AWSCURRENT (`movesCurrent`) at a known time T, with an event id to deduplicate on and the
 * secret's full ARN and name. Anything less waits for DescribeSecret like every other event.
 * Whether T is newer than everything known is the protocol script's decision, not this one.
 */
export interface FastPublishRequest {
  fields: PublishFields;
  /** The event's time, ms since epoch. */
  eventTime: number;
}

/** What to publish at once for `event`, or undefined when it must wait for DescribeSecret. */
export function fastPublishRequest(event: RotationEvent & { secretArn: string }): FastPublishRequest | undefined {
  const eventTime = event.eventTime ? Date.parse(event.eventTime) : Number.NaN;
  if (
    event.movesCurrent !== true ||
    event.versionId === undefined ||
    event.eventId === undefined ||
    event.secretName === undefined ||
    !Number.isFinite(eventTime) ||
    !isSecretsManagerArn(event.secretArn)
  ) {
    return undefined;
  }
  return {
    fields: {
      secretArn: event.secretArn,
      secretName: event.secretName,
      versionId: event.versionId,
      reason: event.eventName ?? event.detailType,
      eventId: event.eventId,
      eventTime: event.eventTime ?? new Date(eventTime).toISOString(),
    },
    eventTime,
  };
}
