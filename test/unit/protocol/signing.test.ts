import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_AGE_MS,
  InvalidSigningKeysError,
  InvalidVerifyOptionsError,
  MAX_CLOCK_SKEW_MS,
  canonicalString,
  createInvalidationVerifier,
  serializeInvalidation,
  signInvalidation,
  verifyInvalidation,
  verifyInvalidationObject,
  type Invalidation,
} from '../../../src/protocol/index.js';
import { KEY_A, KEY_B, KEY_C, PUBLISHED_MS, VECTOR_2, VECTOR_KEY, VECTOR_SIG, baseInvalidation } from '../../support/protocol-fixtures.js';

/** A clock one second after the fixture's publishedAt. */
const now = () => PUBLISHED_MS + 1_000;

function signed(keys: string[] = [KEY_A], overrides: Partial<Invalidation> = {}): string {
  return serializeInvalidation(signInvalidation(baseInvalidation(overrides), keys));
}

describe('signing: canonical string and test vectors', () => {
  it('joins the fields with \\n in the documented order', () => {
    // Act
    const text = canonicalString(baseInvalidation({ sig: 'v1=ignored' }));

    // Assess
    expect(text).toBe(
      [
        '1',
        '3f2b8c1e-6a4d-4f7e-9b1a-2c5d8e0f1a2b',
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf',
        'prod/db',
        'a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
        'AWSCURRENT moved to version a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
        '6f1d2c3b-4a5e-4f60-8192-a3b4c5d6e7f8',
        '2024-05-01T12:00:00Z',
        '2024-05-01T12:00:01.250Z',
      ].join('\n'),
    );
  });

  it('writes an empty line for a missing versionId', () => {
    // Act
    const text = canonicalString(VECTOR_2.invalidation);

    // Assess
    expect(text.split('\n')).toHaveLength(9);
    expect(text.split('\n')[4]).toBe('');
  });

  it('produces the documented signature for test vector 1', () => {
    // Act
    const { sig } = signInvalidation(baseInvalidation(), [VECTOR_KEY]);

    // Assess
    expect(sig).toBe(VECTOR_SIG);
  });

  it('produces the documented signature for test vector 2 (no versionId, non-ASCII reason)', () => {
    // Act
    const { sig } = signInvalidation(VECTOR_2.invalidation, [VECTOR_KEY]);

    // Assess
    expect(sig).toBe(VECTOR_2.sig);
  });
});

describe('signing: verifyInvalidation', () => {
  it('accepts a message when it was signed with the current key', () => {
    // Prepare
    const raw = signed([KEY_A, KEY_B]);

    // Act
    const result = verifyInvalidation(raw, { keys: [KEY_A, KEY_B], maxAgeMs: DEFAULT_MAX_AGE_MS, now });

    // Assess
    expect(result).toMatchObject({ ok: true, signatureVerified: true, invalidation: baseInvalidation() });
  });

  it('accepts a message when it was signed with an older key still in the list', () => {
    // Prepare: the worker still signs with B while subscribers already list A (new) first.
    const raw = signed([KEY_B]);

    // Act
    const result = verifyInvalidation(raw, { keys: [KEY_A, KEY_B], maxAgeMs: DEFAULT_MAX_AGE_MS, now });

    // Assess
    expect(result.ok).toBe(true);
  });

  it('rejects a message as bad-signature when its key was removed from the list', () => {
    // Prepare
    const raw = signed([KEY_B]);

    // Act
    const result = verifyInvalidation(raw, { keys: [KEY_A, KEY_C], maxAgeMs: DEFAULT_MAX_AGE_MS, now });

    // Assess
    expect(result).toMatchObject({ ok: false, code: 'bad-signature' });
  });

  it.each([
    ['versionId', { versionId: 'older-version' }],
    ['secretArn', { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-AbCdEf' }],
    ['secretName', { secretName: 'other' }],
    ['reason', { reason: 'tampered' }],
    ['eventId', { eventId: 'e-2' }],
    ['publishedAt', { publishedAt: '2024-05-01T12:00:02.250Z' }],
  ])('rejects a message as bad-signature when %s was tampered with', (_field, change) => {
    // Prepare
    const original = JSON.parse(signed()) as Invalidation;
    const tampered = JSON.stringify({ ...original, ...change });

    // Act
    const result = verifyInvalidation(tampered, { keys: [KEY_A], maxAgeMs: DEFAULT_MAX_AGE_MS, now });

    // Assess
    expect(result).toMatchObject({ ok: false, code: 'bad-signature' });
  });

  it('rejects a message as bad-signature when versionId was removed', () => {
    // Prepare
    const { versionId: _dropped, ...rest } = JSON.parse(signed()) as Invalidation;

    // Act
    const result = verifyInvalidation(JSON.stringify(rest), { keys: [KEY_A], maxAgeMs: DEFAULT_MAX_AGE_MS, now });

    // Assess
    expect(result).toMatchObject({ ok: false, code: 'bad-signature' });
  });

  it.each([
    ['has an unknown scheme', 'v2=1kw0_-uuNkTjmYKdPsgZUJ1Uw5_nIoYs9UkB2V9RdCw'],
    ['is padded', `${VECTOR_SIG}=`],
    ['is too short', 'v1=abc'],
    ['is not canonical base64url', 'v1=1kw0_-uuNkTjmYKdPsgZUJ1Uw5_nIoYs9UkB2V9RdCx'],
  ])('rejects a message as bad-signature when sig %s', (_label, sig) => {
    // Prepare
    const raw = serializeInvalidation(baseInvalidation({ sig }));

    // Act
    const result = verifyInvalidation(raw, { keys: [VECTOR_KEY], maxAgeMs: DEFAULT_MAX_AGE_MS, now });

    // Assess
    expect(result).toMatchObject({ ok: false, code: 'bad-signature' });
  });

  it('rejects a message as unsigned when keys are configured and it has no sig', () => {
    // Prepare
    const raw = serializeInvalidation(baseInvalidation());

    // Act
    const result = verifyInvalidation(raw, { keys: [KEY_A], maxAgeMs: DEFAULT_MAX_AGE_MS, now });

    // Assess
    expect(result).toMatchObject({ ok: false, code: 'unsigned' });
  });

  it('accepts an unsigned message but still rejects a bad sig when requireSignature is false (roll-out mode)', () => {
    // Prepare
    const options = { keys: [KEY_A], requireSignature: false, now };

    // Act
    const unsigned = verifyInvalidation(serializeInvalidation(baseInvalidation()), options);
    const badlySigned = verifyInvalidation(signed([KEY_C]), options);

    // Assess
    expect(unsigned).toMatchObject({ ok: true, signatureVerified: false });
    expect(badlySigned).toMatchObject({ ok: false, code: 'bad-signature' });
  });

  it('neither requires nor checks a sig when no keys are configured', () => {
    // Prepare
    const forged = serializeInvalidation(baseInvalidation({ sig: 'v1=whatever' }));

    // Act
    const result = verifyInvalidation(forged, { keys: [], now });

    // Assess
    expect(result).toMatchObject({ ok: true, signatureVerified: false });
  });

  it('rejects a message as malformed when it is not JSON', () => {
    // Act
    const result = verifyInvalidation('not json', { keys: [KEY_A], now });

    // Assess
    expect(result).toEqual({ ok: false, code: 'malformed', reason: 'message is not JSON' });
  });

  it('rejects a message as too-old when publishedAt is older than maxAgeMs', () => {
    // Prepare
    const raw = signed();
    const later = () => PUBLISHED_MS + DEFAULT_MAX_AGE_MS + 1;

    // Act
    const result = verifyInvalidation(raw, { keys: [KEY_A], now: later });

    // Assess
    expect(result).toMatchObject({ ok: false, code: 'too-old' });
  });

  it('accepts a message when it is exactly maxAgeMs old', () => {
    // Act
    const result = verifyInvalidation(signed(), { keys: [KEY_A], maxAgeMs: 10_000, now: () => PUBLISHED_MS + 10_000 });

    // Assess
    expect(result.ok).toBe(true);
  });

  it('rejects a message as from-the-future when publishedAt is beyond the clock skew', () => {
    // Prepare
    const earlier = () => PUBLISHED_MS - MAX_CLOCK_SKEW_MS - 1;

    // Act
    const result = verifyInvalidation(signed(), { keys: [KEY_A], now: earlier });

    // Assess
    expect(result).toMatchObject({ ok: false, code: 'from-the-future' });
  });

  it('accepts a message when publishedAt is ahead by less than the clock skew', () => {
    // Act
    const result = verifyInvalidation(signed(), { keys: [KEY_A], now: () => PUBLISHED_MS - MAX_CLOCK_SKEW_MS });

    // Assess
    expect(result.ok).toBe(true);
  });

  it('checks the age even when no keys are configured', () => {
    // Act
    const result = verifyInvalidation(serializeInvalidation(baseInvalidation()), { keys: [], now: () => PUBLISHED_MS + 3_600_000 });

    // Assess
    expect(result).toMatchObject({ ok: false, code: 'too-old' });
  });

  it('skips the age check but still checks the sig when maxAgeMs is Infinity (stored entries)', () => {
    // Prepare
    const stored = signInvalidation(baseInvalidation(), [KEY_A]);
    const options = { keys: [KEY_A], maxAgeMs: Number.POSITIVE_INFINITY, now: () => PUBLISHED_MS + 86_400_000 };

    // Act
    const good = verifyInvalidationObject(stored, options);
    const forged = verifyInvalidationObject({ ...stored, versionId: 'older' }, options);

    // Assess
    expect(good.ok).toBe(true);
    expect(forged).toMatchObject({ ok: false, code: 'bad-signature' });
  });

  it('rejects the options when requireSignature is true without keys', () => {
    // Act
    const act = () => createInvalidationVerifier({ keys: [], requireSignature: true });

    // Assess
    expect(act).toThrow(InvalidVerifyOptionsError);
  });

  it('rejects the options when maxAgeMs is not positive', () => {
    // Act
    const act = () => createInvalidationVerifier({ keys: [], maxAgeMs: 0 });

    // Assess
    expect(act).toThrow(InvalidVerifyOptionsError);
  });
});

describe('signing: keys', () => {
  it('rejects signing when no key is given', () => {
    // Act
    const act = () => signInvalidation(baseInvalidation(), []);

    // Assess
    expect(act).toThrow(InvalidSigningKeysError);
  });

  it('rejects a verifier when a configured key is too short, without echoing it', () => {
    // Act
    const error = captureError(() => createInvalidationVerifier({ keys: ['tiny-SENTINEL'] }));

    // Assess
    expect(error).toBeInstanceOf(InvalidSigningKeysError);
    expect((error as Error).message).not.toContain('SENTINEL');
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('signing: docs/protocol.md', () => {
  it('documents the same test vectors and example message the code produces', async () => {
    // Prepare
    const { readFile } = await import('node:fs/promises');
    const docs = await readFile(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
    const example = serializeInvalidation(signInvalidation(baseInvalidation(), [VECTOR_KEY]));

    // Assess: a drifting spec would send other languages' implementers after the wrong value.
    expect(docs).toContain(VECTOR_KEY);
    expect(docs).toContain(VECTOR_SIG);
    expect(docs).toContain(VECTOR_2.sig);
    expect(docs).toContain(`\`\`\`json\n${example}\n\`\`\``);
  });
});

describe('signing: verifyInvalidationObject', () => {
  it('rejects an object as malformed when a field holds a line break, without throwing', () => {
    // Prepare
    const object = { ...signInvalidation(baseInvalidation(), [KEY_A]), reason: 'a\nb' };

    // Act
    const result = verifyInvalidationObject(object, { keys: [KEY_A], now });

    // Assess
    expect(result).toMatchObject({ ok: false, code: 'malformed' });
  });
});
