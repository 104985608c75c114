import { describe, expect, it } from 'vitest';
import { ACK_FIELD_PREFIX, decodeAck, decodePresence, encodeAck, encodePresence, isValidInstanceId, protocolKeys, type InstanceMetadata } from '../../../src/protocol/index.js';

const META: InstanceMetadata = {
  id: 'web-1:4242:a1b2c3',
  host: 'web-1',
  pid: 4242,
  startedAt: 1_714_564_800_000,
  sdk: 'rotation-relay/0.1.0',
  runtime: 'node/20.19.0',
  heartbeatIntervalMs: 10_000,
  ttlMs: 30_000,
};
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';

describe('presence keys and codec (docs/protocol.md, "Presence and acknowledgements")', () => {
  it('names the presence and timeline keys under the hash tag', () => {
    // Act
    const keys = protocolKeys('rotation-relay');

    // Assess
    expect(keys.instances).toBe('{rotation-relay}:instances');
    expect(keys.instance(META.id)).toBe('{rotation-relay}:instance:web-1:4242:a1b2c3');
    expect(keys.timeline(ARN)).toBe(`{rotation-relay}:timeline:${ARN}`);
  });

  it('encodes one HSET with the metadata and one ack:<secret> field per secret, and decodes it back', () => {
    // Act
    const args = encodePresence(META, {
      heartbeatAt: 1_714_564_900_000,
      subscribed: true,
      acks: [{ secret: ARN, versionId: 'v-2', ackedAt: 1_714_564_850_000 }, { secret: 'prod/cache', versionId: 'env-fallback', ackedAt: 1_714_564_800_500 }],
    });
    const hash = Object.fromEntries(Array.from({ length: args.length / 2 }, (_, i) => [args[2 * i] as string, args[2 * i + 1] as string]));
    const decoded = decodePresence(META.id, hash);

    // Assess
    expect(hash).toEqual({
      id: META.id,
      host: 'web-1',
      pid: '4242',
      startedAt: '1714564800000',
      sdk: 'rotation-relay/0.1.0',
      runtime: 'node/20.19.0',
      heartbeatAt: '1714564900000',
      ttlMs: '30000',
      heartbeatIntervalMs: '10000',
      subscribed: '1',
      [`${ACK_FIELD_PREFIX}${ARN}`]: 'v-2@1714564850000',
      'ack:prod/cache': 'env-fallback@1714564800500',
    });
    expect(decoded).toEqual({
      id: META.id,
      host: 'web-1',
      pid: 4242,
      startedAt: 1_714_564_800_000,
      sdk: 'rotation-relay/0.1.0',
      runtime: 'node/20.19.0',
      heartbeatAt: 1_714_564_900_000,
      ttlMs: 30_000,
      heartbeatIntervalMs: 10_000,
      subscribed: true,
      acks: [
        { secret: ARN, versionId: 'v-2', ackedAt: 1_714_564_850_000 },
        { secret: 'prod/cache', versionId: 'env-fallback', ackedAt: 1_714_564_800_500 },
      ],
    });
  });

  it('ignores unknown fields and drops malformed values instead of failing (another writer may differ)', () => {
    // Act
    const decoded = decodePresence('x', { pid: 'not-a-number', future: 'field', 'ack:': 'v@1', 'ack:a': 'no-at-sign', 'ack:b': '@5', 'ack:c': 'v@-1', 'ack:d': 'v@1.5', 'ack:e': 'v@12' });

    // Assess
    expect(decoded).toEqual({ id: 'x', acks: [{ secret: 'e', versionId: 'v', ackedAt: 12 }] });
  });

  it('splits an ack at its last @ and rounds the time', () => {
    expect(encodeAck('v-1', 12.6)).toBe('v-1@13');
    expect(decodeAck('a@b@7')).toEqual({ versionId: 'a@b', ackedAt: 7 });
  });

  it.each([
    ['the default form', 'web-1.internal:123:abcdef', true],
    ['unicode', 'hôte:1:aaaaaa', true],
    ['empty', '', false],
    ['whitespace', 'web 1:1:a', false],
    ['a newline', 'web\n1', false],
    ['too long', 'x'.repeat(201), false],
  ])('instance ids: %s', (_label, id, valid) => {
    expect(isValidInstanceId(id)).toBe(valid);
  });
});
