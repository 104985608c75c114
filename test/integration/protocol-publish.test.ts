import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  PublishError,
  createInvalidation,
  protocolKeys,
  publishInvalidation,
  readPublishedVersion,
  readPublishedVersions,
  serializeInvalidation,
  signInvalidation,
  verifyInvalidation,
  type Invalidation,
  type InvalidationFields,
} from '../../src/protocol/index.js';
import { useChannelRecorder } from '../support/channel-recorder.js';

const PREFIX = 'rr-test';
const KEYS = protocolKeys(PREFIX);
const SIGNING_KEY = 'integration-signing-key-0123456789abcdef';
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
const OTHER_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/cache-XyZ123';

const channel = useChannelRecorder(KEYS.channel);
let client: Redis;

/** A signed invalidation, as the worker would build it. */
function signedInvalidation(eventId: string, versionId: string | undefined, secretArn = ARN): Invalidation {
  const fields: InvalidationFields = {
    secretArn,
    secretName: secretArn === ARN ? 'prod/db' : 'prod/cache',
    versionId,
    reason: `AWSCURRENT moved to ${versionId ?? 'an unknown version'}`,
    eventId,
    eventTime: '2024-05-01T12:00:00Z',
  };
  return signInvalidation(createInvalidation(fields), [SIGNING_KEY]);
}

/** Everything broadcast since the last call. */
const drainMessages = (): Promise<string[]> => channel.drain();

beforeAll(() => {
  client = channel.client;
});

describe('publishInvalidation against a real redis-server', () => {
  it('publishes the exact signed JSON and stores the same bytes when the secret is new', async () => {
    // Prepare
    const invalidation = signedInvalidation('evt-1', 'v-1');

    // Act
    const result = await publishInvalidation(client, PREFIX, invalidation);

    // Assess
    expect(result).toEqual({ outcome: 'published', receivers: 1 });
    const messages = await drainMessages();
    expect(messages).toEqual([serializeInvalidation(invalidation)]);
    expect(await client.hget(KEYS.versions, ARN)).toBe(messages[0]);
    expect(verifyInvalidation(messages[0] ?? '', { keys: [SIGNING_KEY] })).toMatchObject({ ok: true, signatureVerified: true });
    const ttl = await client.ttl(KEYS.event('evt-1'));
    expect(ttl).toBeGreaterThan(86_000);
  });

  it('writes and sends nothing when the same eventId is delivered again', async () => {
    // Prepare
    await publishInvalidation(client, PREFIX, signedInvalidation('evt-1', 'v-1'));
    const stored = await client.hget(KEYS.versions, ARN);
    await drainMessages();

    // Act: a redelivery, even one naming another version, is the same event.
    const result = await publishInvalidation(client, PREFIX, signedInvalidation('evt-1', 'v-2'));

    // Assess
    expect(result).toEqual({ outcome: 'duplicate-event' });
    expect(await drainMessages()).toEqual([]);
    expect(await client.hget(KEYS.versions, ARN)).toBe(stored);
  });

  it('reports unchanged-version and remembers the event when a new event names the stored version', async () => {
    // Prepare
    await publishInvalidation(client, PREFIX, signedInvalidation('evt-1', 'v-1'));
    const stored = await client.hget(KEYS.versions, ARN);
    await drainMessages();

    // Act
    const result = await publishInvalidation(client, PREFIX, signedInvalidation('evt-2', 'v-1'));
    const redelivery = await publishInvalidation(client, PREFIX, signedInvalidation('evt-2', 'v-1'));

    // Assess
    expect(result).toEqual({ outcome: 'unchanged-version', publishedVersionId: 'v-1' });
    expect(redelivery).toEqual({ outcome: 'duplicate-event' });
    expect(await drainMessages()).toEqual([]);
    expect(await client.hget(KEYS.versions, ARN)).toBe(stored);
  });

  it('publishes when a new event names a new version', async () => {
    // Prepare
    await publishInvalidation(client, PREFIX, signedInvalidation('evt-1', 'v-1'));
    await drainMessages();
    const next = signedInvalidation('evt-2', 'v-2');

    // Act
    const result = await publishInvalidation(client, PREFIX, next);

    // Assess
    expect(result).toEqual({ outcome: 'published', receivers: 1 });
    expect(await drainMessages()).toEqual([serializeInvalidation(next)]);
    expect((await readPublishedVersion(client, PREFIX, ARN))?.versionId).toBe('v-2');
  });

  it('publishes when an operator rolls back to an older version', async () => {
    // Prepare
    await publishInvalidation(client, PREFIX, signedInvalidation('evt-1', 'v-1'));
    await publishInvalidation(client, PREFIX, signedInvalidation('evt-2', 'v-2'));
    await drainMessages();

    // Act
    const result = await publishInvalidation(client, PREFIX, signedInvalidation('evt-3', 'v-1'));

    // Assess
    expect(result).toEqual({ outcome: 'published', receivers: 1 });
    expect(await drainMessages()).toHaveLength(1);
    expect((await readPublishedVersion(client, PREFIX, ARN))?.versionId).toBe('v-1');
  });

  it('publishes the same version again when force is set (manual fleet-wide refresh)', async () => {
    // Prepare
    await publishInvalidation(client, PREFIX, signedInvalidation('evt-1', 'v-1'));
    await drainMessages();
    const manual = signedInvalidation('manual-1', 'v-1');

    // Act
    const result = await publishInvalidation(client, PREFIX, manual, { force: true });

    // Assess
    expect(result).toEqual({ outcome: 'published', receivers: 1 });
    expect(await drainMessages()).toEqual([serializeInvalidation(manual)]);
  });

  it('publishes every time when the invalidation has no versionId to compare', async () => {
    // Prepare
    await publishInvalidation(client, PREFIX, signedInvalidation('evt-1', undefined));
    await drainMessages();

    // Act
    const result = await publishInvalidation(client, PREFIX, signedInvalidation('evt-2', undefined));

    // Assess
    expect(result).toMatchObject({ outcome: 'published' });
    expect(await drainMessages()).toHaveLength(1);
  });

  it('overwrites a corrupt stored entry instead of failing', async () => {
    // Prepare
    await client.hset(KEYS.versions, ARN, '{not json');

    // Act
    const result = await publishInvalidation(client, PREFIX, signedInvalidation('evt-1', 'v-1'));

    // Assess
    expect(result).toMatchObject({ outcome: 'published' });
    expect((await readPublishedVersion(client, PREFIX, ARN))?.versionId).toBe('v-1');
  });

  it('still runs after SCRIPT FLUSH (EVALSHA falls back to EVAL on NOSCRIPT)', async () => {
    // Prepare
    await publishInvalidation(client, PREFIX, signedInvalidation('evt-1', 'v-1'));
    await client.script('FLUSH');
    await drainMessages();

    // Act
    const result = await publishInvalidation(client, PREFIX, signedInvalidation('evt-2', 'v-2'));

    // Assess
    expect(result).toEqual({ outcome: 'published', receivers: 1 });
    expect(await drainMessages()).toHaveLength(1);
  });

  it('writes nothing and throws PublishError when the versions key has the wrong type', async () => {
    // Prepare
    await client.set(KEYS.versions, 'not a hash');

    // Act
    const act = publishInvalidation(client, PREFIX, signedInvalidation('evt-1', 'v-1'));

    // Assess
    await expect(act).rejects.toBeInstanceOf(PublishError);
    await expect(act).rejects.toMatchObject({ code: 'PROTOCOL_PUBLISH_FAILED' });
    expect(await client.exists(KEYS.event('evt-1'))).toBe(0);
    expect(await drainMessages()).toEqual([]);
  });
});

describe('readPublishedVersions against a real redis-server', () => {
  it('returns the last invalidation per secret and skips corrupt entries', async () => {
    // Prepare
    const db = signedInvalidation('evt-1', 'v-1');
    const cache = signedInvalidation('evt-2', 'c-7', OTHER_ARN);
    await publishInvalidation(client, PREFIX, db);
    await publishInvalidation(client, PREFIX, cache);
    const wrongField = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:moved-AbCdEf';
    await client.hset(KEYS.versions, 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:junk-AbCdEf', 'junk');
    await client.hset(KEYS.versions, wrongField, serializeInvalidation(db));
    const corrupt: string[] = [];

    // Act
    const versions = await readPublishedVersions(client, PREFIX, { onCorruptEntry: (field) => corrupt.push(field) });

    // Assess
    expect([...versions.keys()].sort()).toEqual([ARN, OTHER_ARN].sort());
    expect(versions.get(ARN)).toEqual(db);
    expect(versions.get(OTHER_ARN)?.versionId).toBe('c-7');
    expect(corrupt).toHaveLength(2);
  });

  it('returns undefined when nothing was published for the secret', async () => {
    // Act
    const version = await readPublishedVersion(client, PREFIX, ARN);

    // Assess
    expect(version).toBeUndefined();
  });
});
