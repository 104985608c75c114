import { describe, expect, it } from 'vitest';
import { createCredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import { CredentialCacheConfigError } from '../../../src/sdk/cache/errors.js';

/**
 * Issue 13, item 3: secure by default. A cache on the bus verifies signatures unless unsigned mode
 * is asked for by name; without the bus there is nothing to verify.
 */
const secrets = { db: { secretId: 'app/db', json: true } };
const redis = { url: 'redis://127.0.0.1:1', cluster: false, keyPrefix: 'rotation-relay' };
const KEY = 'signing-required-test-key-0123456789abcdef';

describe('createCredentialCache: signing required on the bus', () => {
  it('refuses redis without signingKeys, in one error naming the option, the variable, how to make a key and the opt-in', () => {
    // Act
    const build = () => createCredentialCache({ secrets, redis });

    // Assess
    expect(build).toThrow(CredentialCacheConfigError);
    expect(build).toThrow(/^signingKeys is empty: give the worker's keys \(ROTATION_RELAY_SIGNING_KEYS, generated with `openssl rand -base64 48`\), or set allowUnsigned: true/);
  });

  it.each([
    ['empty signingKeys', { signingKeys: [] }],
    ['allowUnsigned: false', { allowUnsigned: false }],
  ])('refuses %s the same way', (_label, options) => {
    expect(() => createCredentialCache({ secrets, redis, ...options })).toThrow(/signingKeys is empty/);
  });

  it('with keys: builds, and status says signatures are verified', () => {
    expect(createCredentialCache({ secrets, redis, signingKeys: [KEY] }).status().pubsub).toMatchObject({ enabled: true, signing: 'verified' });
  });

  it('with allowUnsigned: true and no keys: builds, and status says it is unsigned', () => {
    expect(createCredentialCache({ secrets, redis, allowUnsigned: true }).status().pubsub).toMatchObject({ enabled: true, signing: 'unsigned' });
  });

  it('keys win over allowUnsigned: true (the opt-in is ignored when keys are given)', () => {
    expect(createCredentialCache({ secrets, redis, signingKeys: [KEY], allowUnsigned: true }).status().pubsub.signing).toBe('verified');
  });

  it('without redis (the poll alone) needs no keys and reports no signing mode', () => {
    const pubsub = createCredentialCache({ secrets }).status().pubsub;
    expect(pubsub).toEqual({ enabled: false, connected: false });
  });
});
