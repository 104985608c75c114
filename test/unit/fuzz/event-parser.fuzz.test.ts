import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ParseResult, parseEventBody } from '../../../src/relay/events/index.js';
import { isPartialSecretArn, isSecretName, isSecretsManagerArn, secretNameFromId } from '../../../src/secrets/index.js';
import { SAMPLE_EVENTS, generatedEvent, mutatedSampleEvent, mutatedSampleText, runs, snsNotification } from '../../support/arbitraries.js';

const ACTIONS = new Set(['invalidate', 'alert', 'ignore', 'reject']);
const FAMILY_OF: Record<string, string> = {
  'Secret Label Updated': 'label-updated',
  'AWS Service Event via CloudTrail': 'cloudtrail-service',
  'AWS API Call via CloudTrail': 'cloudtrail-api',
};
// eslint-disable-next-line no-control-regex -- the property is precisely "no control characters"
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The EventBridge event inside `body`, unwrapping one SNS level the way the parser does. */
function innerEvent(body: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  const outer = asRecord(value);
  if (outer?.['Type'] === 'Notification' && typeof outer['Message'] === 'string') {
    try {
      value = JSON.parse(outer['Message']);
    } catch {
      return undefined;
    }
  }
  return asRecord(value);
}

/**
 * The invariants every body must satisfy, whatever it is. Returns the result for further checks.
 * - never throws, and is deterministic;
 * - ends in exactly one of invalidate / alert / ignore / reject, with a one-line reason;
 * - never names a secret that is not a Secrets Manager ARN, except the caller's own
 *   `requestParameters.secretId` (a bare name or partial ARN, which only an API call carries);
 * - invalidate / alert always name the secret and keep the event id for the dedupe guard.
 */
function checkInvariants(body: string): ParseResult {
  let result: ParseResult | undefined;
  expect(() => {
    result = parseEventBody(body);
  }).not.toThrow();
  const parsed = result as ParseResult;
  expect(parseEventBody(body)).toEqual(parsed);
  expect(ACTIONS.has(parsed.action)).toBe(true);
  expect(typeof parsed.reason).toBe('string');
  expect(parsed.reason.length).toBeGreaterThan(0);
  expect(parsed.reason).not.toMatch(CONTROL);
  expect(JSON.parse(JSON.stringify(parsed))).toEqual(parsed);
  if (parsed.action === 'reject') return parsed;

  const event = innerEvent(body);
  expect(FAMILY_OF[String(event?.['detail-type'])]).toBe(parsed.family);
  expect(parsed.eventId).toBe(event?.['id']);
  const { secretArn } = parsed;
  if (parsed.action !== 'ignore') expect(secretArn).toBeDefined();
  if (secretArn === undefined) return parsed;
  if (isSecretsManagerArn(secretArn)) {
    expect(parsed.secretName).toBe(secretNameFromId(secretArn));
    return parsed;
  }
  // Not a full ARN: only the caller's own secretId (a name or partial ARN) may stand in for one.
  expect(isSecretName(secretArn) || isPartialSecretArn(secretArn)).toBe(true);
  expect(parsed.family).not.toBe('label-updated');
  const requestParameters = asRecord(asRecord(event?.['detail'])?.['requestParameters']);
  expect(secretArn).toBe(requestParameters?.['secretId']);
  expect(parsed.secretName).toBe(secretNameFromId(secretArn));
  return parsed;
}

/** Counts how the inputs of one property ended, so a test can insist it reached the accept paths. */
function tally(): { add(result: ParseResult): void; counts: Record<string, number> } {
  const counts: Record<string, number> = { invalidate: 0, alert: 0, ignore: 0, reject: 0 };
  return { counts, add: (result) => (counts[result.action] = (counts[result.action] ?? 0) + 1) };
}

describe('parseEventBody fuzzing (fast-check)', () => {
  it('keeps its invariants for arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        checkInvariants(JSON.stringify(value) ?? 'null');
      }),
      { numRuns: runs(1_000) },
    );
  });

  it('keeps its invariants for arbitrary text, including binary, huge and deeply nested input', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'grapheme', maxLength: 200 }),
      fc.nat(100_000).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
      fc.nat(100_000).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
      fc.constantFrom('', ' ', 'null', 'true', '0', '""', '[]', '{}', '\uFEFF{}', '{"__proto__":{"polluted":true}}'),
    );
    fc.assert(
      fc.property(text, (body) => {
        checkInvariants(body);
      }),
      { numRuns: runs(600) },
    );
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('keeps its invariants for structural mutations of the real samples, bare and SNS-wrapped', () => {
    const seen = tally();
    fc.assert(
      fc.property(mutatedSampleEvent, fc.nat(3), (event, wrap) => {
        const body = wrap === 0 ? snsNotification(event) : wrap === 1 ? snsNotification(snsNotification(event)) : event;
        seen.add(checkInvariants(JSON.stringify(body)));
      }),
      { numRuns: runs(2_400) },
    );
    // Mutations keep enough of a real event to reach every outcome, not only rejections.
    for (const action of ACTIONS) expect(seen.counts[action]).toBeGreaterThan(0);
  });

  it('keeps its invariants for character-level mutations of the real samples\u2019 raw text', () => {
    fc.assert(
      fc.property(mutatedSampleText, (text) => {
        checkInvariants(text);
      }),
      { numRuns: runs(1_200) },
    );
  });

  it('keeps its invariants for generated events of every family, and reaches every outcome', () => {
    const seen = tally();
    fc.assert(
      fc.property(generatedEvent, (event) => {
        seen.add(checkInvariants(JSON.stringify(event)));
      }),
      { numRuns: runs(1_500) },
    );
    for (const action of ACTIONS) expect(seen.counts[action]).toBeGreaterThan(0);
  });

  it('decides the same for an event and its SNS-wrapped copy (only viaSns differs)', () => {
    const event = fc.oneof(fc.constantFrom(...SAMPLE_EVENTS), mutatedSampleEvent, generatedEvent).filter(
      (e) => asRecord(e)?.['Type'] !== 'Notification',
    );
    fc.assert(
      fc.property(event, (e) => {
        const bare = checkInvariants(JSON.stringify(e));
        const wrapped = checkInvariants(JSON.stringify(snsNotification(e)));
        expect(wrapped.action).toBe(bare.action);
        if (bare.action !== 'reject') expect(wrapped).toEqual({ ...bare, viaSns: true });
      }),
      { numRuns: runs(600) },
    );
  });
});
