import { z } from 'zod';
import { EVENT_LIMITS, PRINTABLE } from './limits.js';
import { type EventContext, rejectEvent, toRotationEvent } from './result.js';
import { resolveSecretRef } from './secret-ref.js';
import { shortText } from './text.js';
import type { ParseResult } from './types.js';
import { describeIssue } from './zod-reason.js';

export const LABEL_UPDATED = 'Secret Label Updated';

const CURRENT = 'AWSCURRENT';

const detailSchema = z.object({
  labelUpdated: z.string().min(1).max(EVENT_LIMITS.stagingLabel),
  name: z.string().min(1).max(EVENT_LIMITS.secretName).optional(),
  versionId: z.string().min(1).max(EVENT_LIMITS.versionId).regex(PRINTABLE, 'must not contain control characters or line breaks').optional(),
});

/**
 * `Secret Label Updated`: the native event, sent when a staging label moves. `AWSCURRENT` moving
 * is the best trigger there is (finished rotation, plain put, manual roll-back) and names the
 * version to fetch; any other label changes nothing an application reads.
 */
export function parseLabelUpdated(ctx: EventContext): ParseResult {
  const { envelope } = ctx;
  const parsed = detailSchema.safeParse(envelope.detail);
  if (!parsed.success) return rejectEvent(ctx, describeIssue(parsed.error, envelope.detail, 'detail'));
  const detail = parsed.data;

  // The native event is built by AWS with the ARN in resources[0]; without it the event is malformed.
  const resolved = resolveSecretRef([{ field: 'resources[0]', value: envelope.resources[0], accepts: 'arn' }]);
  if (!resolved.ok) return rejectEvent(ctx, resolved.reason);
  const ref = resolved.ref;
  if (ref === undefined) return rejectEvent(ctx, 'resources[0] is missing, expected the secret ARN');
  if (detail.name !== undefined && detail.name !== ref.secretName) {
    return rejectEvent(
      ctx,
      `detail.name "${shortText(detail.name, 80)}" does not match the secret named by resources[0] ("${shortText(ref.secretName, 80)}")`,
    );
  }

  if (detail.labelUpdated !== CURRENT) {
    return toRotationEvent(ctx, {
      action: 'ignore',
      reason: `label ${shortText(detail.labelUpdated, 80)} moved on ${ref.secretName}; only AWSCURRENT changes the value applications read`,
      ref,
      versionId: detail.versionId,
    });
  }
  const where = detail.versionId === undefined ? 'a new version' : `version ${shortText(detail.versionId, 80)}`;
  return toRotationEvent(ctx, {
    action: 'invalidate',
    reason: `AWSCURRENT of ${ref.secretName} moved to ${where}`,
    ref,
    versionId: detail.versionId,
    movesCurrent: true,
  });
}
