import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createInvalidation,
  protocolKeys,
  publishIfNewer,
  publishInvalidation,
  readPublishedVersion,
  type Invalidation,
} from '../../../src/protocol/index.js';
import { useChannelRecorder } from '../../support/channel-recorder.js';

/**
 * The publish script's fast path (`publishIfNewer`) and the bookkeeping it relies on
 * (`{P}:versions-as-of`, the event-id marker), against a real redis-server.
 */
const PREFIX = 'rr-fast';
const KEYS = protocolKeys(PREFIX);
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const MARGIN = 100;

const channel = useChannelRecorder(KEYS.channel);
let client: Redis;

function invalidation(eventId: string, versionId: string, eventTime = T0): Invalidation {
  return createInvalidation({ secretArn: ARN, secretName: 'prod/db', versionId, reason: 'test', eventId, eventTime: new Date(eventTime).toISOString() });
}

/** The versions broadcast since the last call. */
async function drain(): Promise<string[]> {
  return (await channel.drain()).map((m) => (JSON.parse(m) as Invalidation).versionId ?? '');
}

const fast = (eventId: string, versionId: string, eventTime: number) =>
  publishIfNewer(client, PREFIX, invalidation(eventId, versionId, eventTime), { eventTime, marginMs: MARGIN });
const confirm = (eventId: string, versionId: string, startedAt: number, supersededVersionIds: string[] = []) =>
  publishInvalidation(client, PREFIX, invalidation(eventId, versionId), { confirmedBy: { startedAt, supersededVersionIds } });

beforeAll(() => {
  client = channel.client;
});

describe('publishIfNewer (fast publish) against a real redis-server', () => {
  it('publishes the first version ever seen for a secret and marks the event as awaiting confirmation', async () => {
    const result = await fast('evt-1', 'v-1', T0);

    expect(result).toEqual({ outcome: 'published', receivers: 1 });
    expect(await drain()).toEqual(['v-1']);
    expect(await client.get(KEYS.event('evt-1'))).toBe('fast');
    expect(JSON.parse((await client.hget(KEYS.versionsAsOf, ARN)) ?? '{}')).toMatchObject({ asOf: T0 });
  });

  it('publishes an event newer than the confirming read by more than the margin, naming what it replaced', async () => {
    await confirm('evt-1', 'v-1', T0);
    await drain();

    const result = await fast('evt-2', 'v-2', T0 + MARGIN + 1);

    expect(result).toEqual({ outcome: 'published', receivers: 1, previousVersionId: 'v-1' });
    expect(await drain()).toEqual(['v-2']);
    expect((await readPublishedVersion(client, PREFIX, ARN))?.versionId).toBe('v-2');
  });

  it.each([
    ['older than the confirming read', -5_000],
    ['within the margin', MARGIN],
  ])('writes nothing for an event %s', async (_case, offset) => {
    await confirm('evt-1', 'v-1', T0);
    await drain();

    const result = await fast('evt-2', 'v-2', T0 + offset);

    expect(result).toEqual({ outcome: 'not-newer', why: 'older' });
    expect(await client.exists(KEYS.event('evt-2'))).toBe(0);
    expect((await readPublishedVersion(client, PREFIX, ARN))?.versionId).toBe('v-1');
    expect(await drain()).toEqual([]);
  });

  it('writes nothing for a version a read showed as superseded, however new the event (a roll-back or a replay)', async () => {
    await confirm('evt-1', 'v-2', T0, ['v-1']);
    await drain();

    const result = await fast('evt-2', 'v-1', T0 + 60_000);

    expect(result).toEqual({ outcome: 'not-newer', why: 'known' });
    expect(await drain()).toEqual([]);
  });

  it('remembers the version a fast publish replaced as older', async () => {
    await confirm('evt-1', 'v-1', T0);
    await fast('evt-2', 'v-2', T0 + 1_000);
    await drain();

    const result = await fast('evt-3', 'v-1', T0 + 2_000);

    expect(result).toEqual({ outcome: 'not-newer', why: 'known' });
  });

  it('writes nothing for the version already published', async () => {
    await fast('evt-1', 'v-1', T0);
    await drain();

    const result = await fast('evt-2', 'v-1', T0 + 10_000);

    expect(result).toEqual({ outcome: 'unchanged-version', publishedVersionId: 'v-1' });
    expect(await client.exists(KEYS.event('evt-2'))).toBe(0);
    expect(await drain()).toEqual([]);
  });

  it('never publishes at once over an entry whose time it does not know (a manual publish, an older worker)', async () => {
    await publishInvalidation(client, PREFIX, invalidation('manual-1', 'v-1'), { force: true });
    await drain();

    const result = await fast('evt-2', 'v-2', T0 + 3_600_000);

    expect(result).toEqual({ outcome: 'not-newer', why: 'older' });
  });

  it('answers duplicate-event for an event fully handled, and confirm-pending for one published at once but not confirmed', async () => {
    await confirm('evt-1', 'v-1', T0);
    await fast('evt-2', 'v-2', T0 + 1_000);

    expect(await fast('evt-1', 'v-3', T0 + 5_000)).toEqual({ outcome: 'duplicate-event' });
    expect(await fast('evt-2', 'v-2', T0 + 1_000)).toEqual({ outcome: 'confirm-pending' });
  });

  it('lets the confirmation of a fast publish through its own marker, then marks the event handled', async () => {
    await fast('evt-1', 'v-1', T0);
    await drain();

    const confirmed = await confirm('evt-1', 'v-1', T0 + 20);

    expect(confirmed).toEqual({ outcome: 'unchanged-version', publishedVersionId: 'v-1' });
    expect(await client.get(KEYS.event('evt-1'))).toBe('1');
    expect(await confirm('evt-1', 'v-1', T0 + 40)).toEqual({ outcome: 'duplicate-event' });
    expect(await drain()).toEqual([]);
  });

  it('publishes a correction when the confirming read shows another version, and records the read', async () => {
    await confirm('evt-0', 'v-1', T0 - 10_000);
    await fast('evt-1', 'v-2', T0);
    await drain();

    const corrected = await confirm('evt-1', 'v-1', T0 + 20, ['v-2']);

    expect(corrected).toEqual({ outcome: 'published', receivers: 1 });
    expect(await drain()).toEqual(['v-1']);
    // The event that was wrong cannot publish its version at once again.
    expect(await fast('evt-9', 'v-2', T0 + 60_000)).toEqual({ outcome: 'not-newer', why: 'known' });
  });

  it('moves the known time forward when a read confirms the stored version unchanged', async () => {
    await confirm('evt-1', 'v-1', T0);
    await confirm('evt-2', 'v-1', T0 + 10_000);

    expect(await fast('evt-3', 'v-2', T0 + 5_000)).toEqual({ outcome: 'not-newer', why: 'older' });
    expect(await fast('evt-4', 'v-2', T0 + 10_000 + MARGIN + 1)).toMatchObject({ outcome: 'published' });
  });
});
