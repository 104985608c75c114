import { describe, expect, it } from 'vitest';
import {
  InvalidVerifyOptionsError,
  createInvalidationVerifier,
  serializeInvalidation,
  signInvalidation,
  type Invalidation,
} from '../../../src/protocol/index.js';
import { DEFAULT_CLOCK_SKEW_TOLERANCE_MS } from '../../../src/protocol/signing.js';
import { KEY_A, KEY_B, PUBLISHED_MS, baseInvalidation } from '../../support/protocol-fixtures.js';

function signed(overrides: Partial<Invalidation> = {}): string {
  return serializeInvalidation(signInvalidation(baseInvalidation(overrides), [KEY_A]));
}

/** A verifier whose clock reads `offsetMs` away from the fixture's publishedAt. */
function verifierAt(offsetMs: number, options: { clockSkewToleranceMs?: number; maxAgeMs?: number; keys?: string[] } = {}) {
  return createInvalidationVerifier({ keys: options.keys ?? [KEY_A], now: () => PUBLISHED_MS + offsetMs, ...options });
}

describe('clock-skew tolerance of the verifier', () => {
  it('defaults to 30 000 ms', () => {
    expect(DEFAULT_CLOCK_SKEW_TOLERANCE_MS).toBe(30_000);
    expect(verifierAt(-30_000).verify(signed())).toMatchObject({ ok: true });
    expect(verifierAt(-30_001).verify(signed())).toMatchObject({ ok: false, code: 'from-the-future' });
  });

  it('accepts a message exactly the configured tolerance ahead, and rejects one a millisecond further', () => {
    // Prepare: this host's clock is two minutes behind the worker's.
    const tolerance = 120_000;

    // Act
    const atBound = verifierAt(-120_000, { clockSkewToleranceMs: tolerance }).verify(signed());
    const beyond = verifierAt(-120_001, { clockSkewToleranceMs: tolerance }).verify(signed());

    // Assess
    expect(atBound).toMatchObject({ ok: true, signatureVerified: true });
    expect(beyond).toMatchObject({
      ok: false,
      code: 'from-the-future',
      reason: 'publishedAt is 120001 ms in the future, more than the 120000 ms clock skew allowed',
    });
  });

  it('with tolerance 0 rejects any message stamped after its clock', () => {
    expect(verifierAt(0, { clockSkewToleranceMs: 0 }).verify(signed())).toMatchObject({ ok: true });
    expect(verifierAt(-1, { clockSkewToleranceMs: 0 }).verify(signed())).toMatchObject({ ok: false, code: 'from-the-future' });
  });

  it('leaves the past side to maxAgeMs: a larger tolerance does not accept a too-old message', () => {
    // Act
    const result = verifierAt(60_001, { clockSkewToleranceMs: 600_000, maxAgeMs: 60_000 }).verify(signed());

    // Assess
    expect(result).toMatchObject({ ok: false, code: 'too-old' });
  });

  it('reports the offset publishedAt minus its clock, positive for a message from the future', () => {
    // Act
    const future = verifierAt(-45_000).verify(signed());
    const old = verifierAt(400_000).verify(signed());

    // Assess
    expect(future).toMatchObject({ ok: false, code: 'from-the-future', offsetMs: 45_000, signatureVerified: true });
    expect(old).toMatchObject({ ok: false, code: 'too-old', offsetMs: -400_000, signatureVerified: true });
  });

  it('hands back the parsed message of a freshness failure, so its id can be remembered', () => {
    // Act
    const result = verifierAt(-45_000).verify(signed());

    // Assess
    if (result.ok || !('invalidation' in result)) throw new Error(`expected a freshness failure, got ${JSON.stringify(result)}`);
    expect(result.invalidation).toEqual(signInvalidation(baseInvalidation(), [KEY_A]));
  });

  it('marks a freshness failure of an unverified message as such: no keys, or unsigned in roll-out mode', () => {
    // Prepare
    const unsigned = serializeInvalidation(baseInvalidation());

    // Act
    const noKeys = verifierAt(-45_000, { keys: [] }).verify(unsigned);
    const rollOut = createInvalidationVerifier({ keys: [KEY_B], requireSignature: false, now: () => PUBLISHED_MS - 45_000 }).verify(unsigned);

    // Assess
    expect(noKeys).toMatchObject({ ok: false, code: 'from-the-future', signatureVerified: false });
    expect(rollOut).toMatchObject({ ok: false, code: 'from-the-future', signatureVerified: false });
  });

  it('judges a forged message by its signature, whatever its publishedAt, so no clock reading comes from a forger', () => {
    // Prepare: signed with a key this verifier does not hold.
    const forged = serializeInvalidation(signInvalidation(baseInvalidation(), [KEY_B]));

    // Act
    const result = verifierAt(-45_000).verify(forged);

    // Assess
    expect(result).toEqual({ ok: false, code: 'bad-signature', reason: 'sig does not match any configured key' });
  });

  it.each([
    ['negative', -1],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['NaN', Number.NaN],
  ])('refuses a %s tolerance when the verifier is built', (_label, clockSkewToleranceMs) => {
    // Act
    const act = () => createInvalidationVerifier({ keys: [KEY_A], clockSkewToleranceMs });

    // Assess
    expect(act).toThrow(InvalidVerifyOptionsError);
    expect(act).toThrow('clockSkewToleranceMs must be a finite number of milliseconds >= 0');
  });

  it('applies the tolerance to stored entries too (verifyObject), which are otherwise not age-checked', () => {
    // Prepare
    const entry = signInvalidation(baseInvalidation(), [KEY_A]);
    const options = { keys: [KEY_A], maxAgeMs: Number.POSITIVE_INFINITY, now: () => PUBLISHED_MS - 120_000 };

    // Act
    const strict = createInvalidationVerifier(options).verifyObject(entry);
    const raised = createInvalidationVerifier({ ...options, clockSkewToleranceMs: 180_000 }).verifyObject(entry);

    // Assess
    expect(strict).toMatchObject({ ok: false, code: 'from-the-future' });
    expect(raised).toMatchObject({ ok: true });
  });
});
