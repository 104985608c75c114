import { z } from 'zod';
import { isJsonObject } from './json.js';
import { describeValue, shortText } from './text.js';
import { describeIssue } from './zod-reason.js';

export const SECRETS_MANAGER_SOURCE = 'aws.secretsmanager';

/**
 * The EventBridge envelope fields the parser relies on. Other envelope fields (`version`,
 * `account`, `region`) are not checked: nothing downstream reads them. `time` is optional
 * because a re-published event may lack it and `detail.eventTime` then stands in.
 */
const envelopeSchema = z.object({
  source: z.literal(SECRETS_MANAGER_SOURCE),
  'detail-type': z.string().min(1),
  id: z.string().min(1),
  time: z.string().min(1).optional(),
  detail: z.record(z.string(), z.unknown()),
  resources: z.array(z.string()),
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
