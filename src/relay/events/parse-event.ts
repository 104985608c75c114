import { CLOUDTRAIL_API_CALL, parseCloudTrailApi } from './cloudtrail-api.js';
import { CLOUDTRAIL_SERVICE_EVENT, parseCloudTrailService } from './cloudtrail-service.js';
import { validateEnvelope } from './envelope.js';
import { tryParseJson } from './json.js';
import { LABEL_UPDATED, parseLabelUpdated } from './label-updated.js';
import { checkEventLimits, EVENT_LIMITS } from './limits.js';
import type { EventContext } from './result.js';
import { unwrapSns } from './sns.js';
import { shortText } from './text.js';
import type { EventFamily, ParseResult } from './types.js';

type FamilyParser = (ctx: EventContext) => ParseResult;

const FAMILIES: ReadonlyMap<string, { family: EventFamily; parse: FamilyParser }> = new Map([
  [LABEL_UPDATED, { family: 'label-updated', parse: parseLabelUpdated }],
  [CLOUDTRAIL_SERVICE_EVENT, { family: 'cloudtrail-service', parse: parseCloudTrailService }],
  [CLOUDTRAIL_API_CALL, { family: 'cloudtrail-api', parse: parseCloudTrailApi }],
]);

/**
 * Turns one SQS message body into what the worker should do with it.
 *
 * Never throws, whatever the body: a throw would make the consumer retry a message that can
 * never succeed. Anything not understood becomes `reject` (the redrive policy moves it to the
 * DLQ) with a reason that names the offending field, and so does a body with a field over its
 * maximum (EVENT_LIMITS): an event this accepts can always be published.
 */
export function parseEventBody(body: string): ParseResult {
  try {
    return parseUnsafe(body);
  } catch (error: unknown) {
    // Last line of defence only: every known failure is handled above without throwing.
    const what = error instanceof Error ? error.message : String(error);
    return { action: 'reject', reason: `unexpected parser failure: ${shortText(what, 200)}` };
  }
}

function parseUnsafe(body: string): ParseResult {
  if (typeof body !== 'string') return { action: 'reject', reason: 'body is not a string' };
  if (body.length > EVENT_LIMITS.bodyLength) {
    return { action: 'reject', reason: `body is ${body.length} characters, more than the ${EVENT_LIMITS.bodyLength} allowed (an EventBridge event is at most 256 KB)` };
  }
  const json = tryParseJson(body);
  if (!json.ok) return { action: 'reject', reason: 'body is not JSON' };

  const unwrapped = unwrapSns(json.value);
  if (!unwrapped.ok) return { action: 'reject', reason: unwrapped.reason };

  const checked = validateEnvelope(unwrapped.value);
  if (!checked.ok) {
    return checked.eventId === undefined
      ? { action: 'reject', reason: checked.reason }
      : { action: 'reject', reason: checked.reason, eventId: checked.eventId };
  }
  const { envelope } = checked;
  const detailType = envelope['detail-type'];
  const handler = FAMILIES.get(detailType);
  if (handler === undefined) {
    return {
      action: 'reject',
      reason: `detail-type "${shortText(detailType, 80)}" is not a Secrets Manager event this parser knows`,
      eventId: envelope.id,
    };
  }
  const result = handler.parse({ envelope, family: handler.family, viaSns: unwrapped.viaSns });
  return result.action === 'reject' ? result : checkEventLimits(result, envelope.time !== undefined);
}
