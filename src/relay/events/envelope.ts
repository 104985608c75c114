import { z } from 'zod';
import { isInvalidationTime } from '../../protocol/index.js';
import { isJsonObject } from './json.js';
import { EVENT_LIMITS, PRINTABLE, TIME_EXPECTED } from './limits.js';
import { describeValue, shortText } from './text.js';
import { describeIssue } from './zod-reason.js';

export const SECRETS_MANAGER_SOURCE = 'aws.secretsmanager';

/**
 * The EventBridge envelope fields the parser relies on. Other envelope fields (`version`,
 * `account`, `region`) are not checked: nothing downstream reads them. `time` is optional
 * because a re-published event may lack it and `detail.eventTime` then stands in. Every field
 * read has a maximum (EVENT_LIMITS, src/relay/events/limits.ts).
 */
const envelopeSchema = z.object({
  source: z.literal(SECRETS_MANAGER_SOURCE),
  'detail-type': z.string().min(1).max(EVENT_LIMITS.name),
  // The id becomes the invalidation's `eventId` and the duplicate guard's key: it must be
  // publishable as it is, or the event is refused here rather than after a DescribeSecret.
  id: z.string().min(1).max(EVENT_LIMITS.id).regex(PRINTABLE, 'must not contain control characters or line breaks'),
  time: z.string().min(1).refine(isInvalidationTime, TIME_EXPECTED).optional(),
  detail: z.record(z.string(), z.unknown()),
  resources: z.array(z.string().max(EVENT_LIMITS.secretId)).max(EVENT_LIMITS.resources),
});

export type Envelope = z.infer<typeof envelopeSchema>;

export type EnvelopeCheck = { ok: true; envelope: Envelope } | { ok: false; reason: string; eventId?: string };

/** Validates the EventBridge envelope around a Secrets Manager event. */
export function validateEnvelope(value: unknown): EnvelopeCheck {
  if (!isJsonObject(value)) {
    return { ok: false, reason: `body is ${describeValue(value)}, expected a JSON object (an EventBridge event)` };
  }
  // Keep the id on rejections when there is one: it lets an operator find the event in a DLQ.
  const eventId = typeof value['id'] === 'string' && value['id'] !== '' ? shortText(value['id'], 100) : undefined;
  const withId = eventId === undefined ? {} : { eventId };
  // Checked before the schema so that a foreign event gets the most useful sentence.
  if (value['source'] !== SECRETS_MANAGER_SOURCE) {
    return { ok: false, reason: `source is ${describeValue(value['source'])}, expected "${SECRETS_MANAGER_SOURCE}"`, ...withId };
  }
  const parsed = envelopeSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: describeIssue(parsed.error, value), ...withId };
  return { ok: true, envelope: parsed.data };
}
