import type { Invalidation } from '../../src/protocol/index.js';

export const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
export const NAME = 'prod/db';
export const KEY_A = 'key-a-0123456789abcdef0123456789abcdef';
export const KEY_B = 'key-b-0123456789abcdef0123456789abcdef';
export const KEY_C = 'key-c-0123456789abcdef0123456789abcdef';
/** 2024-05-01T12:00:01.250Z: the `publishedAt` of {@link baseInvalidation}. */
export const PUBLISHED_MS = Date.parse('2024-05-01T12:00:01.250Z');

/**
 * The first test vector of docs/protocol.md. Its values must stay exactly as documented: other
 * languages check their canonical string and HMAC against the signature written there.
 */
export const VECTOR_KEY = 'rotation-relay-test-vector-key-0123456789abcdef';
export const VECTOR_SIG = 'v1=1kw0_-uuNkTjmYKdPsgZUJ1Uw5_nIoYs9UkB2V9RdCw';

export function baseInvalidation(overrides: Partial<Invalidation> = {}): Invalidation {
  return {
    v: 1,
    id: '3f2b8c1e-6a4d-4f7e-9b1a-2c5d8e0f1a2b',
    secretArn: ARN,
    secretName: NAME,
    versionId: 'a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
    reason: 'AWSCURRENT moved to version a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
    eventId: '6f1d2c3b-4a5e-4f60-8192-a3b4c5d6e7f8',
    eventTime: '2024-05-01T12:00:00Z',
    publishedAt: '2024-05-01T12:00:01.250Z',
    ...overrides,
  };
}

/** The second documented vector: no versionId, a non-ASCII reason, an offset eventTime. */
export const VECTOR_2 = {
  invalidation: {
    v: 1,
    id: '0b6c2f4e-1d3a-4c5b-9e7f-8a9b0c1d2e3f',
    secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/smtp-XyZ123',
    secretName: 'prod/smtp',
    reason: 'rotation réussie (manual refresh)',
    eventId: 'manual-7d9e',
    eventTime: '2024-05-01T12:05:00+02:00',
    publishedAt: '2024-05-01T10:05:00.000Z',
  } satisfies Invalidation,
  sig: 'v1=gIJOaG8F2ZytuLvToroWF3mB6ydbIBRhXP4CWp-4T-M',
};
