import { z } from 'zod';
import { EVENT_LIMITS } from './limits.js';
import { describeIssue } from './zod-reason.js';

/**
 * The CloudTrail record fields both CloudTrail-derived families read. Only fields that decide
 * the action are typed strictly; fields used as fallbacks or in messages stay `unknown` and are
 * checked where they are used, so an odd value there cannot turn a good event into a rejection.
 */
const record = z.record(z.string(), z.unknown());

const cloudTrailDetailSchema = z.object({
  eventName: z.string().min(1).max(EVENT_LIMITS.name),
  errorCode: z.string().nullish(),
  errorMessage: z.unknown().optional(),
  requestParameters: record.nullish(),
  responseElements: record.nullish(),
  additionalEventData: record.nullish(),
  requestID: z.unknown().optional(),
});

export type CloudTrailDetail = z.infer<typeof cloudTrailDetailSchema>;

export type CloudTrailCheck = { ok: true; detail: CloudTrailDetail } | { ok: false; reason: string };

export function parseCloudTrailDetail(detail: Record<string, unknown>): CloudTrailCheck {
  const parsed = cloudTrailDetailSchema.safeParse(detail);
  if (!parsed.success) return { ok: false, reason: describeIssue(parsed.error, detail, 'detail') };
  return { ok: true, detail: parsed.data };
}

/** A non-empty string field of a CloudTrail sub-object, or undefined. */
export function stringField(source: Record<string, unknown> | null | undefined, key: string): string | undefined {
  const value = source?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
