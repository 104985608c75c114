import { describe, expect, it } from 'vitest';
import { DEFAULT_KEY_PREFIX, InvalidKeyPrefixError, protocolKeys } from '../../../src/protocol/index.js';

describe('protocolKeys', () => {
  it('puts every key under the hash tag of the default prefix', () => {
    // Prepare
    const prefix = DEFAULT_KEY_PREFIX;

    // Act
    const keys = protocolKeys(prefix);

    // Assess
    expect(keys.tag).toBe('{rotation-relay}');
    expect(keys.channel).toBe('{rotation-relay}:invalidations');
    expect(keys.versions).toBe('{rotation-relay}:versions');
    expect(keys.event('e-1')).toBe('{rotation-relay}:event:e-1');
  });

  it('uses a custom prefix inside the tag', () => {
    // Act
    const keys = protocolKeys('staging:app');

    // Assess
    expect(keys.channel).toBe('{staging:app}:invalidations');
    expect(keys.event('x')).toBe('{staging:app}:event:x');
  });

  it.each([
    ['empty', ''],
    ['an opening brace', 'a{b'],
    ['a closing brace', 'a}b'],
    ['whitespace', 'a b'],
  ])('rejects a prefix when it is %s', (_label, prefix) => {
    // Act
    const act = () => protocolKeys(prefix);

    // Assess
    expect(act).toThrow(InvalidKeyPrefixError);
    expect(act).toThrow(/ROTATION_RELAY_KEY_PREFIX/);
  });

  it('names the bad prefix in the error when it has braces', () => {
    // Act
    const error = captureError(() => protocolKeys('{oops}'));

    // Assess
    expect(error).toBeInstanceOf(InvalidKeyPrefixError);
    expect(error).toMatchObject({ code: 'PROTOCOL_INVALID_KEY_PREFIX' });
    expect((error as Error).message).toContain('"{oops}"');
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
