import type { Envelope } from './envelope.js';
import type { SecretRef } from './secret-ref.js';
import type { EventFamily, RejectedEvent, RotationEvent } from './types.js';

/** What every family handler knows about the body besides its own detail fields. */
export interface EventContext {
  envelope: Envelope;
  family: EventFamily;
  viaSns: boolean;
}

/** The decision a family handler makes, before the shared fields are filled in. */
export interface Decision {
  action: RotationEvent['action'];
  reason: string;
  eventName?: string;
  ref?: SecretRef;
  versionId?: string;
  /** The event records that `versionId` became AWSCURRENT (see RotationEvent.movesCurrent). */
  movesCurrent?: true;
}

/** Builds a RotationEvent with the fields every family fills the same way. */
export function toRotationEvent(ctx: EventContext, decision: Decision): RotationEvent {
  const { envelope } = ctx;
  const detailTime = envelope.detail['eventTime'];
  const eventTime = envelope.time ?? (typeof detailTime === 'string' && detailTime !== '' ? detailTime : undefined);
  const event: RotationEvent = {
    action: decision.action,
    family: ctx.family,
    detailType: envelope['detail-type'],
    reason: decision.reason,
    eventId: envelope.id,
  };
  if (decision.eventName !== undefined) event.eventName = decision.eventName;
  if (decision.ref !== undefined) {
    event.secretArn = decision.ref.secretArn;
    event.secretName = decision.ref.secretName;
  }
  if (decision.versionId !== undefined) event.versionId = decision.versionId;
  if (decision.movesCurrent === true && decision.action === 'invalidate' && decision.versionId !== undefined) event.movesCurrent = true;
  if (eventTime !== undefined) event.eventTime = eventTime;
  if (ctx.viaSns) event.viaSns = true;
  return event;
}

/** A rejection that keeps the event id, so the DLQ'd message can be traced. */
export function rejectEvent(ctx: EventContext, reason: string): RejectedEvent {
  return { action: 'reject', reason, eventId: ctx.envelope.id };
}
