import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InvalidInvalidationError,
  MAX_MESSAGE_LENGTH,
  createInvalidation,
  parseInvalidation,
  serializeInvalidation,
  type InvalidationFields,
} from '../../../src/protocol/index.js';
// Not (yet) re-exported by src/protocol/index.ts.
import { INVALIDATION_FIELD_LIMITS } from '../../../src/protocol/invalidation.js';
import { ARN, NAME, baseInvalidation } from '../../support/protocol-fixtures.js';

const FIELDS: InvalidationFields = {
  secretArn: ARN,
  secretName: NAME,
  versionId: 'v-2',
  reason: 'AWSCURRENT moved to version v-2',
  eventId: 'evt-1',
  eventTime: '2024-05-01T12:00:00Z',
};

describe('createInvalidation', () => {
  it('fills v, a random uuid id and publishedAt from the injected clock', () => {
    // Prepare
    const now = () => Date.parse('2024-05-01T12:00:03.000Z');

    // Act
    const first = createInvalidation(FIELDS, now);
    const second = createInvalidation(FIELDS, now);

    // Assess
    expect(first).toMatchObject({ v: 1, ...FIELDS, publishedAt: '2024-05-01T12:00:03.000Z' });
    expect(first.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(second.id).not.toBe(first.id);
    expect(first.sig).toBeUndefined();
  });

  it('copies only the known fields when the caller passes extra properties', () => {
    // Prepare
    const fields = { ...FIELDS, sig: 'v1=forged', password: 'hunter2' } as InvalidationFields;

    // Act
    const invalidation = createInvalidation(fields);

    // Assess
    expect(invalidation).not.toHaveProperty('sig');
    expect(invalidation).not.toHaveProperty('password');
  });

  it('rejects the fields when secretArn is not a Secrets Manager ARN', () => {
    // Act
    const act = () => createInvalidation({ ...FIELDS, secretArn: 'prod/db' });

    // Assess
    expect(act).toThrow(InvalidInvalidationError);
    expect(act).toThrow(/secretArn must be a Secrets Manager secret ARN/);
  });

  it.each([
    ['eventId', 256],
    ['reason', 1024],
    ['versionId', 64],
    ['secretName', 512],
  ] as const)('refuses a %s over its %i-character limit, which the event parser shares, and accepts one at it', (field, max) => {
    // Act
    const over = () => createInvalidation({ ...FIELDS, [field]: 'x'.repeat(max + 1) });
    const at = createInvalidation({ ...FIELDS, [field]: 'x'.repeat(max) });

    // Assess
    expect(over).toThrow(InvalidInvalidationError);
    expect(over).toThrow(`${field} is ${max + 1} characters, more than the ${max} allowed`);
    expect(at[field]).toHaveLength(max);
    expect(INVALIDATION_FIELD_LIMITS[field]).toBe(max);
  });

  it('keeps the longest message its limits allow, every character escaped and signed, under what a subscriber parses', () => {
    // Prepare: control characters are escaped by JSON as six characters each.
    const worst = (n: number) => '\u0001'.repeat(n);
    const limits = INVALIDATION_FIELD_LIMITS;

    // Act
    const invalidation = createInvalidation({
      secretArn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${'a'.repeat(limits.secretArn - 60)}`,
      secretName: worst(limits.secretName),
      versionId: worst(limits.versionId),
      reason: worst(limits.reason),
      eventId: worst(limits.eventId),
      eventTime: '2024-05-01T12:00:00.123456789+02:00',
    });

    // Assess
    expect(serializeInvalidation({ ...invalidation, sig: `v1=${'A'.repeat(43)}` }).length).toBeLessThan(MAX_MESSAGE_LENGTH);
  });

  it('rejects the fields when a signed field holds a line break', () => {
    // Act
    const act = () => createInvalidation({ ...FIELDS, reason: 'first\nsecond' });

    // Assess
    expect(act).toThrow(/reason must not contain a line break/);
  });
});

describe('parseInvalidation', () => {
  it('returns the invalidation when the message is its serialized JSON', () => {
    // Prepare
    const invalidation = baseInvalidation({ sig: 'v1=abc' });

    // Act
    const result = parseInvalidation(serializeInvalidation(invalidation));

    // Assess
    expect(result).toEqual({ ok: true, invalidation });
  });

  it('strips unknown fields instead of rejecting them when a newer publisher adds some', () => {
    // Prepare
    const raw = JSON.stringify({ ...baseInvalidation(), region: 'eu-west-1', hints: { ttl: 5 } });

    // Act
    const result = parseInvalidation(raw);

    // Assess
    expect(result).toEqual({ ok: true, invalidation: baseInvalidation() });
  });

  it.each([
    ['the message is not JSON', '{"v":1,', 'message is not JSON'],
    ['the message is an array', '[1,2]', 'message is not a JSON object'],
    ['the message is null', 'null', 'message is not a JSON object'],
    ['secretName is missing', JSON.stringify({ ...baseInvalidation(), secretName: undefined }), 'secretName must be a string'],
    ['id is not a uuid', JSON.stringify(baseInvalidation({ id: 'nope' })), 'id must be a UUID'],
    ['publishedAt has no zone', JSON.stringify(baseInvalidation({ publishedAt: '2024-05-01T12:00:00' })), 'publishedAt must be an ISO-8601'],
    ['versionId is null', JSON.stringify({ ...baseInvalidation(), versionId: null }), 'versionId must be a string'],
    ['v is 2', JSON.stringify({ ...baseInvalidation(), v: 2 }), 'unsupported protocol version v=2'],
    ['v is a string', JSON.stringify({ ...baseInvalidation(), v: '1' }), 'v must be 1'],
  ])('rejects the message when %s', (_label, raw, reason) => {
    // Act
    const result = parseInvalidation(raw);

    // Assess
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toContain(reason);
  });

  it('rejects the message when it is longer than the cap, without parsing it', () => {
    // Prepare
    const raw = JSON.stringify({ ...baseInvalidation(), padding: 'x'.repeat(MAX_MESSAGE_LENGTH) });

    // Act
    const result = parseInvalidation(raw);

    // Assess
    expect(result).toMatchObject({ ok: false, reason: expect.stringContaining('more than the') });
  });

  it('does not echo field values in the reason when a hostile message is rejected', () => {
    // Prepare
    const raw = JSON.stringify(baseInvalidation({ secretName: 'line\nbreak-SENTINEL' }));

    // Act
    const result = parseInvalidation(raw);

    // Assess
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).not.toContain('SENTINEL');
  });

  it('never throws when given arbitrary text or JSON', () => {
    // Assess
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((value) => JSON.stringify(value))), (raw) => {
        const result = parseInvalidation(raw);
        return typeof result.ok === 'boolean';
      }),
    );
  });
});

describe('serializeInvalidation', () => {
  it('writes the fields in the fixed order and leaves out absent ones', () => {
    // Prepare
    const invalidation = { ...baseInvalidation({ versionId: undefined, sig: 'v1=s' }), extra: 1 };

    // Act
    const json = serializeInvalidation(invalidation);

    // Assess
    expect(Object.keys(JSON.parse(json) as object)).toEqual([
      'v', 'id', 'secretArn', 'secretName', 'reason', 'eventId', 'eventTime', 'publishedAt', 'sig',
    ]);
  });
});
