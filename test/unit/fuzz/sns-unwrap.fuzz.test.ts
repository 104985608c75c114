import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSnsNotification, unwrapSns } from '../../../src/relay/events/sns.js';
import { generatedEvent, mutatedSampleEvent, runs, snsNotification } from '../../support/arbitraries.js';

/** SNS envelopes with every field drawn from right and wrong types. */
const snsLike = fc
  .record(
    {
      Type: fc.oneof(fc.constant('Notification'), fc.constantFrom('SubscriptionConfirmation', 'notification', ''), fc.jsonValue({ maxDepth: 1 })),
      Message: fc.oneof(
        mutatedSampleEvent.map((event) => JSON.stringify(event)),
        generatedEvent.map((event) => JSON.stringify(event)),
        fc.string(),
        fc.jsonValue({ maxDepth: 2 }),
        mutatedSampleEvent.map((event) => JSON.stringify(snsNotification(event))),
      ),
      TopicArn: fc.oneof(fc.constant('arn:aws:sns:eu-west-1:123456789012:topic'), fc.jsonValue({ maxDepth: 1 })),
      MessageId: fc.uuid(),
    },
    { requiredKeys: [] },
  )
  .map((record) => record as Record<string, unknown>);

function parses(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

describe('unwrapSns fuzzing (fast-check)', () => {
  it('never throws, unwraps exactly one level, and passes everything else through untouched', () => {
    fc.assert(
      fc.property(fc.oneof(snsLike, fc.jsonValue({ maxDepth: 3 }), mutatedSampleEvent), (value) => {
        const result = unwrapSns(value);

        if (!isSnsNotification(value)) {
          // Not an SNS envelope: the same value comes back, unless it claims to be one and is broken.
          const record = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
          const claims = record !== undefined && record['Type'] === 'Notification' && 'TopicArn' in record;
          expect(result).toEqual(claims ? { ok: false, reason: expect.any(String) } : { ok: true, value, viaSns: false });
          return;
        }
        const inner = parses(value.Message);
        if (!inner.ok) {
          expect(result).toEqual({ ok: false, reason: 'SNS notification Message is not JSON' });
          return;
        }
        const nested = typeof inner.value === 'object' && inner.value !== null && (inner.value as Record<string, unknown>)['Type'] === 'Notification';
        if (nested) {
          expect(result.ok).toBe(false);
          return;
        }
        expect(result).toEqual({ ok: true, value: inner.value, viaSns: true });
      }),
      { numRuns: runs(1_500) },
    );
  });
});
