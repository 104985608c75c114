import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEventBody } from '../../../src/relay/events/index.js';
import { isSecretsManagerArn } from '../../../src/secrets/index.js';
import {
  InvalidInvalidationError,
  MAX_MESSAGE_LENGTH,
  createInvalidation,
  createInvalidationVerifier,
  parseInvalidation,
  serializeInvalidation,
  signIfKeyed,
  type Invalidation,
  type InvalidationFields,
} from '../../../src/protocol/index.js';
import { SAMPLE_EVENTS, generatedEvent, runs, secretName, secretsManagerArn } from '../../support/arbitraries.js';

/**
 * The worker never builds or stores a message that a subscriber would reject: whatever fields it
 * is handed, `createInvalidation` either refuses them (InvalidInvalidationError, which the worker
 * turns into a rejection for the DLQ) or returns an invalidation that a subscriber's verifier
 * accepts, signed or not, as published and as read back from `{P}:versions`.
 */

const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const KEYS = ['k'.repeat(32), 'an older key that is still accepted, 32+ bytes'];

/** Text of every kind: plain, unicode, control characters, line breaks, lone surrogates, huge. */
const hostileText = (maxLength: number) =>
  fc.oneof(
    { arbitrary: fc.string({ maxLength: 40 }), weight: 4 },
    { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 2 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
    { arbitrary: fc.constantFrom('', 'a\nb', 'a\rb', '\u2028', '"\\', '\u0000'.repeat(200), '\ud800'), weight: 1 },
    // Around every limit, and far over it: escapes multiply a control character's length by 6.
    { arbitrary: fc.integer({ min: 1, max: maxLength }).map((n) => 'x'.repeat(n)), weight: 2 },
    { arbitrary: fc.integer({ min: 1, max: 12_000 }).map((n) => '\u0001'.repeat(n)), weight: 1 },
  );

const time = fc.oneof(
  fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2024-05-01T12:05:00+02:00', '2025-01-02T03:04:05.123456789Z', 'yesterday', '', '2025-01-02T03:04:05'),
  hostileText(80),
);

const fields: fc.Arbitrary<InvalidationFields> = fc
  .record({
    secretArn: fc.oneof({ arbitrary: secretsManagerArn, weight: 4 }, { arbitrary: hostileText(3_000), weight: 1 }),
    secretName: fc.oneof({ arbitrary: secretName, weight: 4 }, { arbitrary: hostileText(1_000), weight: 1 }),
    versionId: fc.option(fc.oneof({ arbitrary: fc.uuid(), weight: 3 }, { arbitrary: hostileText(100), weight: 2 }), { nil: undefined }),
    reason: fc.oneof({ arbitrary: fc.constantFrom('RotationSucceeded', 'Secret Label Updated'), weight: 3 }, { arbitrary: hostileText(70_000), weight: 2 }),
    eventId: fc.oneof({ arbitrary: fc.uuid(), weight: 3 }, { arbitrary: hostileText(70_000), weight: 2 }),
    eventTime: time,
  })
  .map(({ versionId, ...rest }) => (versionId === undefined ? rest : { ...rest, versionId }));

/** Builds like the worker; undefined when refused with the typed error (anything else fails the test). */
function build(input: InvalidationFields): Invalidation | undefined {
  try {
    return createInvalidation(input, () => NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInvalidationError);
    return undefined;
  }
}

function expectAcceptedBySubscribers(invalidation: Invalidation): void {
  for (const keys of [KEYS, []]) {
    const published = signIfKeyed(invalidation, keys);
    const raw = serializeInvalidation(published);
    expect(raw.length).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH);
    // What every subscriber does with a received message…
    const received = createInvalidationVerifier({ keys, now: () => NOW }).verify(raw);
    expect(received).toMatchObject({ ok: true, signatureVerified: keys.length > 0 });
    if (received.ok) expect(received.invalidation).toEqual(published);
    // …and with the same text read back from `{P}:versions` by reconcile (no age limit).
    const stored = parseInvalidation(raw);
    expect(stored.ok).toBe(true);
    if (stored.ok) expect(createInvalidationVerifier({ keys, maxAgeMs: Infinity, now: () => NOW }).verifyObject(stored.invalidation).ok).toBe(true);
  }
}

describe('every message the worker can publish is accepted by a subscriber (fast-check)', () => {
  it('createInvalidation refuses fields a subscriber would reject, and everything it builds verifies, signed or not', () => {
    let built = 0;
    let refused = 0;
    fc.assert(
      fc.property(fields, (input) => {
        const invalidation = build(input);
        if (invalidation === undefined) {
          refused += 1;
          return;
        }
        built += 1;
        expectAcceptedBySubscribers(invalidation);
      }),
      { numRuns: runs(800) },
    );
    // Both sides of the property were exercised, not only one.
    expect(built).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });

  it('every event the parser accepts gives fields the worker can publish, on the fast path and after DescribeSecret', () => {
    // Generated events with hostile ids, times and version ids over their limits.
    const hostileEvent = fc
      .tuple(
        // The real samples invalidate far more often than generated events do.
        fc.oneof(fc.constantFrom(...SAMPLE_EVENTS), generatedEvent),
        fc.option(hostileText(70_000), { freq: 4, nil: undefined }),
        fc.option(time, { freq: 4, nil: undefined }),
        fc.option(hostileText(100), { freq: 4, nil: undefined }),
      )
      .map(([generated, id, eventTime, versionId]) => {
        const outer = structuredClone(generated) as Record<string, unknown>;
        const wrapped = outer['Type'] === 'Notification';
        const event = wrapped ? (JSON.parse(String(outer['Message'])) as Record<string, unknown>) : outer;
        if (id !== undefined) event['id'] = id;
        if (eventTime !== undefined) event['time'] = eventTime;
        const detail = event['detail'] as Record<string, unknown> | undefined;
        if (versionId !== undefined && detail) detail['versionId'] = versionId;
        if (wrapped) outer['Message'] = JSON.stringify(event);
        return JSON.stringify(outer);
      });
    let invalidations = 0;
    let rejected = 0;
    fc.assert(
      fc.property(hostileEvent, (text) => {
        const event = parseEventBody(text);
        if (event.action === 'reject') rejected += 1;
        if (event.action !== 'invalidate' || event.secretArn === undefined) return;
        invalidations += 1;
        const common = { reason: event.eventName ?? event.detailType, eventId: event.eventId ?? 'sqs-message-id', eventTime: event.eventTime ?? new Date(NOW).toISOString() };
        // The fast path publishes what the event says (handle-message.ts `tryFastPublish`).
        if (isSecretsManagerArn(event.secretArn) && event.secretName !== undefined && event.versionId !== undefined) {
          const fast = createInvalidation({ ...common, secretArn: event.secretArn, secretName: event.secretName, versionId: event.versionId }, () => NOW);
          expectAcceptedBySubscribers(fast);
        }
        // Otherwise the event's id and time go out with what DescribeSecret answered.
        const confirmed = createInvalidation({ ...common, secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf', secretName: 'prod/db', versionId: 'v-1' }, () => NOW);
        expectAcceptedBySubscribers(confirmed);
      }),
      { numRuns: runs(1_500) },
    );
    expect(invalidations).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });
});
