import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_CLOCK_SKEW_MS,
  canonicalString,
  createInvalidationVerifier,
  serializeInvalidation,
  signInvalidation,
  verifyInvalidation,
  type Invalidation,
  type VerifyResult,
} from '../../../src/protocol/index.js';
import { runs, secretName, secretsManagerArn } from '../../support/arbitraries.js';

const CODES = new Set(['malformed', 'unsigned', 'bad-signature', 'too-old', 'from-the-future']);
const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const MAX_AGE_MS = 300_000;
const SIGNED_FIELDS = ['v', 'id', 'secretArn', 'secretName', 'versionId', 'reason', 'eventId', 'eventTime', 'publishedAt'] as const;

/** Signing keys: at least 32 UTF-8 bytes, any characters (the key is used as is). */
const key = fc.oneof(
  fc.string({ minLength: 32, maxLength: 64 }),
  fc.string({ unit: 'grapheme', minLength: 32, maxLength: 48 }),
  fc.uint8Array({ minLength: 24, maxLength: 48 }).map((bytes) => Buffer.from(bytes).toString('base64')),
);
const keyList = fc.uniqueArray(key, { minLength: 1, maxLength: 4 });

/** A single line of text (the schema refuses line breaks in every field). */
const line = (min = 0) => fc.string({ unit: 'grapheme', minLength: min, maxLength: 60 }).filter((s) => !/[\r\n]/.test(s));
const isoAround = (centre: number, spreadMs: number) =>
  fc.integer({ min: -spreadMs, max: spreadMs }).map((offset) => new Date(centre + offset).toISOString());

/** Valid v1 invalidations, published within the replay window of NOW. */
const invalidation: fc.Arbitrary<Invalidation> = fc
  .record({
    id: fc.uuid({ version: 4 }),
    secretArn: secretsManagerArn,
    secretName,
    versionId: fc.option(line(1), { nil: undefined }),
    reason: line(),
    eventId: line(1),
    eventTime: fc.oneof(isoAround(NOW, 86_400_000), fc.constant('2024-05-01T12:05:00+02:00')),
    publishedAt: isoAround(NOW - MAX_AGE_MS / 2, MAX_AGE_MS / 2 - 1_000),
  })
  .map((fields) => {
    const { versionId, ...rest } = fields;
    return { v: 1 as const, ...rest, ...(versionId === undefined ? {} : { versionId }) };
  });

function hmac(keyText: string, text: string): string {
  return `v1=${createHmac('sha256', Buffer.from(keyText, 'utf8')).update(text, 'utf8').digest('base64url')}`;
}

/** Never throws; ends in ok or exactly one documented failure code. */
function verifyChecked(raw: string, options: Parameters<typeof verifyInvalidation>[1]): VerifyResult {
  let result: VerifyResult | undefined;
  expect(() => {
    result = verifyInvalidation(raw, options);
  }).not.toThrow();
  const verified = result as VerifyResult;
  if (!verified.ok) {
    expect(CODES.has(verified.code)).toBe(true);
    expect(typeof verified.reason).toBe('string');
    // The reason never echoes the message (it is untrusted and ends up in logs).
    if (raw.length > 40) expect(verified.reason).not.toContain(raw);
  }
  return verified;
}

/** A verified message really carries a signature made with one of the keys. */
function expectGenuine(result: VerifyResult, keys: readonly string[]): void {
  if (!result.ok) return;
  expect(result.signatureVerified).toBe(true);
  const { invalidation: parsed } = result;
  expect(keys.map((k) => hmac(k, canonicalString(parsed)))).toContain(parsed.sig);
}

/** A different value for one signed field, still of the right type most of the time. */
function mutateField(message: Invalidation, field: (typeof SIGNED_FIELDS)[number], seed: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...message };
  const current = copy[field];
  switch (field) {
    case 'v':
      copy['v'] = seed.length % 2 === 0 ? 2 : '1';
      break;
    case 'versionId':
      if (current === undefined) copy['versionId'] = seed || 'v2';
      else if (seed.length % 3 === 0) delete copy['versionId'];
      else copy['versionId'] = `${String(current)}${seed || 'x'}`;
      break;
    case 'eventTime':
    case 'publishedAt':
      // Same instant, other spelling, or a millisecond later: both change the signed text.
      copy[field] = seed.length % 2 === 0 ? new Date(Date.parse(String(current)) + 1).toISOString() : String(current).replace(/(\.\d{3})?Z$/, '+00:00');
      break;
    case 'id':
      copy['id'] = String(current) === '00000000-0000-4000-8000-000000000000' ? '00000000-0000-4000-8000-000000000001' : '00000000-0000-4000-8000-000000000000';
      break;
    case 'secretArn':
      copy['secretArn'] = String(current).replace(/-(\w{6})$/, (_m, suffix: string) => `-${suffix === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`);
      break;
    default:
      copy[field] = `${String(current)}${seed || ' '}`;
  }
  return copy;
}

describe('invalidation verifier fuzzing (fast-check)', () => {
  it('never throws and ends in ok or one failure code, for arbitrary text and JSON', () => {
    const raw = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null'),
      fc.dictionary(fc.constantFrom(...SIGNED_FIELDS, 'sig', '__proto__'), fc.jsonValue({ maxDepth: 1 })).map((value) => JSON.stringify(value)),
      fc.nat(70_000).map((n) => `{"v":1,"reason":"${'x'.repeat(n)}"}`),
    );
    fc.assert(
      fc.property(raw, fc.option(keyList, { nil: undefined }), (text, keys) => {
        const result = verifyChecked(text, { keys: keys ?? [], now: () => NOW });
        if (keys) expectGenuine(result, keys);
      }),
      { numRuns: runs(1_200) },
    );
  });

  it('accepts what the worker signs with any key of the list, in any position', () => {
    fc.assert(
      fc.property(invalidation, keyList, keyList, fc.nat(), (message, signer, others, position) => {
        const signed = signInvalidation(message, signer);
        const accepted = [...others];
        accepted.splice(position % (accepted.length + 1), 0, signer[0] as string);

        const result = verifyChecked(serializeInvalidation(signed), { keys: accepted, now: () => NOW });

        expect(result).toMatchObject({ ok: true, signatureVerified: true });
        expectGenuine(result, accepted);
      }),
      { numRuns: runs(800) },
    );
  });

  it('rejects a signed message once any signed field is changed', () => {
    fc.assert(
      fc.property(invalidation, keyList, fc.constantFrom(...SIGNED_FIELDS), fc.string({ maxLength: 3 }), (message, keys, field, seed) => {
        const signed = signInvalidation(message, keys);
        const tampered = mutateField(signed, field, seed);
        fc.pre(canonicalOf(tampered) !== canonicalString(signed));

        const result = verifyChecked(JSON.stringify(tampered), { keys, now: () => NOW });

        expect(result.ok).toBe(false);
        if (!result.ok) expect(['bad-signature', 'malformed']).toContain(result.code);
      }),
      { numRuns: runs(1_200) },
    );
  });

  it('never accepts a character-level edit of a signed message unless the signed fields survived it', () => {
    const edit = fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 2 }));
    fc.assert(
      fc.property(invalidation, keyList, fc.array(edit, { minLength: 1, maxLength: 3 }), (message, keys, edits) => {
        const signed = signInvalidation(message, keys);
        let raw = serializeInvalidation(signed);
        for (const [at, kind, text] of edits) {
          const i = at % (raw.length + 1);
          raw = kind === 'insert' ? raw.slice(0, i) + text + raw.slice(i) : kind === 'delete' ? raw.slice(0, i) + raw.slice(i + 1) : raw.slice(0, i) + text + raw.slice(i + 1);
        }

        const result = verifyChecked(raw, { keys, now: () => NOW });

        // Accepted only if the edit fell outside every signed value (whitespace, key order…).
        if (result.ok) expect(canonicalString(result.invalidation)).toBe(canonicalString(signed));
        expectGenuine(result, keys);
      }),
      { numRuns: runs(1_000) },
    );
  });

  it('rejects messages signed with a key that is not (or no longer) in the list, and unsigned ones', () => {
    fc.assert(
      fc.property(invalidation, keyList, key, fc.boolean(), (message, accepted, foreign, unsigned) => {
        fc.pre(!accepted.includes(foreign));
        const raw = serializeInvalidation(unsigned ? message : signInvalidation(message, [foreign]));

        const result = verifyChecked(raw, { keys: accepted, now: () => NOW });

        expect(result).toMatchObject({ ok: false, code: unsigned ? 'unsigned' : 'bad-signature' });
        // Roll-out mode lets unsigned messages through, never badly signed ones.
        const rollOut = createInvalidationVerifier({ keys: accepted, requireSignature: false, now: () => NOW }).verify(raw);
        expect(rollOut.ok).toBe(unsigned);
        if (rollOut.ok) expect(rollOut.signatureVerified).toBe(false);
      }),
      { numRuns: runs(600) },
    );
  });

  it('judges authenticity before age: a replayed genuine message is too-old, a forged old one a bad signature', () => {
    fc.assert(
      fc.property(invalidation, keyList, key, fc.integer({ min: 1, max: 86_400_000 }), fc.boolean(), (message, keys, foreign, ageBeyond, future) => {
        fc.pre(!keys.includes(foreign));
        const publishedAt = future ? NOW + MAX_CLOCK_SKEW_MS + ageBeyond : NOW - MAX_AGE_MS - ageBeyond;
        const stale = { ...message, publishedAt: new Date(publishedAt).toISOString() };

        const genuine = verifyChecked(serializeInvalidation(signInvalidation(stale, keys)), { keys, maxAgeMs: MAX_AGE_MS, now: () => NOW });
        const forged = verifyChecked(serializeInvalidation(signInvalidation(stale, [foreign])), { keys, maxAgeMs: MAX_AGE_MS, now: () => NOW });

        expect(genuine).toMatchObject({ ok: false, code: future ? 'from-the-future' : 'too-old' });
        expect(forged).toMatchObject({ ok: false, code: 'bad-signature' });
      }),
      { numRuns: runs(400) },
    );
  });
});

/** The canonical string of a tampered object, or a marker when it is no longer a valid message. */
function canonicalOf(value: Record<string, unknown>): string {
  const result = verifyInvalidation(JSON.stringify(value), { keys: [], maxAgeMs: Infinity, now: () => NOW });
  return result.ok ? canonicalString(result.invalidation) : `invalid:${JSON.stringify(value)}`;
}
