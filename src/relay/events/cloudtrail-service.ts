import { type CloudTrailDetail, parseCloudTrailDetail } from './cloudtrail-detail.js';
import { type Decision, type EventContext, rejectEvent, toRotationEvent } from './result.js';
import { type IdCandidate, type SecretRef, resolveSecretRef } from './secret-ref.js';
import { shortText } from './text.js';
import type { ParseResult } from './types.js';

export const CLOUDTRAIL_SERVICE_EVENT = 'AWS Service Event via CloudTrail';

/** AWS error messages are not secrets, but they are unbounded: keep alerts readable. */
const ERROR_MESSAGE_MAX = 300;

// Rotation request ids look like `Rotation-<secret ARN>-<uuid>`; the ARN itself contains '-'.
const ROTATION_REQUEST_ID_RE = /^Rotation-(arn:.+)-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * `AWS Service Event via CloudTrail`: what the rotation machinery reports. Only a finished
 * rotation changes AWSCURRENT; failed and abandoned ones leave the old value current but an
 * operator must hear about them.
 */
export function parseCloudTrailService(ctx: EventContext): ParseResult {
  const checked = parseCloudTrailDetail(ctx.envelope.detail);
  if (!checked.ok) return rejectEvent(ctx, checked.reason);
  const { detail } = checked;
  const eventName = detail.eventName;
  const name = shortText(eventName, 80);

  const known = isRotationEvent(eventName);
  const resolved = resolveSecretRef(secretCandidates(ctx, detail));
  if (!known) {
    // Not ours to judge: ignore it, attaching the secret only if it resolved cleanly.
    const ref = resolved.ok ? resolved.ref : undefined;
    return toRotationEvent(ctx, { action: 'ignore', eventName, ref, reason: `service event ${name} does not change the current value` });
  }
  if (!resolved.ok) return rejectEvent(ctx, resolved.reason);
  if (resolved.ref === undefined) return rejectEvent(ctx, `${name} event names no secret ARN`);
  return toRotationEvent(ctx, decide(eventName, detail, resolved.ref));
}

const ROTATION_EVENTS = new Set(['RotationStarted', 'RotationSucceeded', 'RotationFailed', 'RotationAbandoned']);

/** The events this family understands: for them a missing or bad secret id is a malformed event. */
function isRotationEvent(eventName: string): boolean {
  return ROTATION_EVENTS.has(eventName) || eventName.startsWith('TestRotation');
}

function decide(eventName: string, detail: CloudTrailDetail, ref: SecretRef): Decision {
  const base = { eventName, ref };
  switch (eventName) {
    case 'RotationSucceeded':
      return { ...base, action: 'invalidate', reason: `rotation of ${ref.secretName} succeeded, AWSCURRENT moved` };
    case 'RotationFailed':
      return { ...base, action: 'alert', reason: `rotation of ${ref.secretName} failed${errorSuffix(detail)}` };
    case 'RotationAbandoned':
      return { ...base, action: 'alert', reason: `rotation of ${ref.secretName} was abandoned${errorSuffix(detail)}` };
    case 'RotationStarted':
      return { ...base, action: 'ignore', reason: `rotation of ${ref.secretName} started; AWSCURRENT moves only when it succeeds` };
    default:
      if (eventName.startsWith('TestRotation')) {
        return { ...base, action: 'ignore', reason: `${shortText(eventName, 80)} is a rotation test and never moves AWSCURRENT` };
      }
      return { ...base, action: 'ignore', reason: `service event ${shortText(eventName, 80)} does not change the current value` };
  }
}

function errorSuffix(detail: CloudTrailDetail): string {
  const message = detail.errorMessage;
  if (typeof message !== 'string' || message.trim() === '') return ' (the event carries no error message)';
  return `: ${shortText(message, ERROR_MESSAGE_MAX)}`;
}

/**
 * Where a service event may name its secret, most reliable first. AWS documents
 * `additionalEventData.SecretId`; the rest are fallbacks in case the shape changes.
 */
function secretCandidates(ctx: EventContext, detail: CloudTrailDetail): IdCandidate[] {
  const requestId = typeof detail.requestID === 'string' ? ROTATION_REQUEST_ID_RE.exec(detail.requestID)?.[1] : undefined;
  return [
    { field: 'detail.additionalEventData.SecretId', value: detail.additionalEventData?.['SecretId'], accepts: 'arn' },
    { field: 'detail.requestParameters.secretId', value: detail.requestParameters?.['secretId'], accepts: 'id' },
    { field: 'detail.responseElements.arn', value: detail.responseElements?.['arn'], accepts: 'arn' },
    { field: 'detail.responseElements.aRN', value: detail.responseElements?.['aRN'], accepts: 'arn' },
    { field: 'resources[0]', value: ctx.envelope.resources[0], accepts: 'arn' },
    // The request id only counts when it parses as one; otherwise it is not an id field at all.
    { field: 'detail.requestID', value: requestId, accepts: 'arn' },
  ];
}
