import { INVALIDATION_FIELD_LIMITS, isInvalidationTime } from '../../protocol/index.js';
import { shortText } from './text.js';
import type { ParseResult, RotationEvent } from './types.js';

/**
 * The longest value the parser takes from a body, field by field (docs/deploy.md#event-limits).
 * A body over any of them is rejected (and so ends in the DLQ): nothing AWS sends comes near
 * them, and the fields that reach an invalidation share their maximum with the protocol
 * (INVALIDATION_FIELD_LIMITS), so an event the parser accepts can always be published.
 * Fields only echoed into a reason (`errorCode`, `errorMessage`, unknown names) are not limits:
 * they are cut short there (src/relay/events/text.ts) instead.
 */
export const EVENT_LIMITS = {
  /**
   * The SQS body, in characters, checked before it is parsed. An EventBridge event is at most
   * 256 KB; inside an SNS notification its JSON is escaped once more, hence twice that.
   */
  bodyLength: 512 * 1024,
  /** `id`: an EventBridge event id is a 36-character UUID. */
  id: INVALIDATION_FIELD_LIMITS.eventId,
  /** `time` and `detail.eventTime`: an ISO-8601 date-time with `Z` or an offset. */
  time: INVALIDATION_FIELD_LIMITS.eventTime,
  /** `detail-type` and CloudTrail's `detail.eventName`. */
  name: 128,
  /** Entries of `resources` (a Secrets Manager event has at most one). */
  resources: 20,
  /** One entry of `resources`, and any secret ARN or id (AWS's `SecretId` maximum). */
  secretId: INVALIDATION_FIELD_LIMITS.secretArn,
  /** A secret's name (AWS's maximum). */
  secretName: INVALIDATION_FIELD_LIMITS.secretName,
  /** A version id: AWS's are 32 to 64 characters. */
  versionId: INVALIDATION_FIELD_LIMITS.versionId,
  /** A staging label (`labelUpdated`, `versionStage`, each of `versionStages`): AWS's maximum. */
  stagingLabel: 256,
  /** Entries of `versionStages`: AWS allows 20 labels on a version. */
  versionStages: 20,
} as const;

// Ids and version ids end up in logs, metric dimensions and the signed canonical string (which
// joins fields with "\n"): no control character, line break or line separator is plausible in one.
// eslint-disable-next-line no-control-regex -- refusing control characters is the point here
export const PRINTABLE = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/;

export const TIME_EXPECTED = 'must be an ISO-8601 date-time with Z or an offset';

/** Why `value` cannot be taken as `field`, or undefined: too long, or holding a control character. */
export function textProblem(field: string, value: string, max: number): string | undefined {
  if (value.length > max) return `${field} is ${value.length} characters, more than the ${max} allowed`;
  if (!PRINTABLE.test(value)) return `${field} must not contain control characters or line breaks, got "${shortText(value, 80)}"`;
  return undefined;
}

/**
 * The last check on what a family parser took from the event: every field that reaches an
 * invalidation must be one the worker can publish. The envelope's own fields were checked by
 * its schema; these are the ones a family reads from `detail`, wherever it found them.
 */
export function checkEventLimits(event: RotationEvent, envelopeHasTime: boolean): ParseResult {
  const problem = eventProblem(event, envelopeHasTime);
  if (problem === undefined) return event;
  return event.eventId === undefined ? { action: 'reject', reason: problem } : { action: 'reject', reason: problem, eventId: event.eventId };
}

function eventProblem(event: RotationEvent, envelopeHasTime: boolean): string | undefined {
  // Without `time` the event time is `detail.eventTime`, which no schema has checked.
  if (event.eventTime !== undefined && !isInvalidationTime(event.eventTime)) {
    return `${envelopeHasTime ? 'time' : 'detail.eventTime'} is "${shortText(event.eventTime, 80)}", expected an ISO-8601 date-time with Z or an offset`;
  }
  if (event.versionId !== undefined) {
    const problem = textProblem('the version id the event names', event.versionId, EVENT_LIMITS.versionId);
    if (problem !== undefined) return problem;
  }
  if (event.secretArn !== undefined && event.secretArn.length > EVENT_LIMITS.secretId) {
    return `the secret id the event names is ${event.secretArn.length} characters, more than the ${EVENT_LIMITS.secretId} allowed`;
  }
  if (event.secretName !== undefined && event.secretName.length > EVENT_LIMITS.secretName) {
    return `the secret name the event names is ${event.secretName.length} characters, more than the ${EVENT_LIMITS.secretName} allowed`;
  }
  return undefined;
}
