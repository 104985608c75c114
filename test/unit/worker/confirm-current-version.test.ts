import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CurrentVersion } from '../../../src/secrets/index.js';
import { SecretsManagerUnavailableError } from '../../../src/secrets/index.js';
import { confirmCurrentVersion } from '../../../src/worker/confirm-current-version.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
const LAST = 'version-last-published';
const EVENT = 'version-named-by-event';
const OTHER = 'version-neither';

function current(versionId: string): CurrentVersion {
  return { arn: ARN, name: 'prod/db', versionId };
}

/**
 * A describe stub that answers with `versions` in order and then keeps repeating the last one,
 * counting its calls.
 */
function describeSequence(...versions: string[]): { describe: () => Promise<CurrentVersion>; calls: () => number } {
  let calls = 0;
  return {
    describe: async () => {
      const versionId = versions[Math.min(calls, versions.length - 1)];
      calls += 1;
      if (versionId === undefined) throw new Error('describeSequence needs at least one version');
      return current(versionId);
    },
    calls: () => calls,
  };
}

/** A virtual clock: `sleep` advances `now` instantly and records each requested duration. */
function virtualClock(start = 1_000_000): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[]; advance: (ms: number) => void } {
  let time = start;
  const slept: number[] = [];
  return {
    now: () => time,
    sleep: async (ms: number) => {
      slept.push(ms);
      time += ms;
    },
    slept,
    advance: (ms: number) => {
      time += ms;
    },
  };
}

describe('confirmCurrentVersion', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('returns after one read when the event names no version', async () => {
    // Prepare
    const reads = describeSequence(LAST, EVENT);
    const clock = virtualClock();

    // Act
    const result = await confirmCurrentVersion({
      describe: reads.describe,
      lastPublishedVersionId: LAST,
      windowMs: 1_000,
      intervalMs: 100,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess
    expect(result).toEqual({ current: current(LAST), reads: 1, gaveUp: false });
    expect(reads.calls()).toBe(1);
    expect(clock.slept).toEqual([]);
  });

  it('returns after one read when no version was published yet', async () => {
    // Prepare
    const reads = describeSequence(LAST, EVENT);
    const clock = virtualClock();

    // Act
    const result = await confirmCurrentVersion({
      describe: reads.describe,
      eventVersionId: EVENT,
      windowMs: 1_000,
      intervalMs: 100,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess
    expect(result).toEqual({ current: current(LAST), reads: 1, gaveUp: false });
    expect(clock.slept).toEqual([]);
  });

  it('returns after one read when the read already shows the event version', async () => {
    // Prepare
    const reads = describeSequence(EVENT, LAST);
    const clock = virtualClock();

    // Act
    const result = await confirmCurrentVersion({
      describe: reads.describe,
      eventVersionId: EVENT,
      lastPublishedVersionId: LAST,
      windowMs: 1_000,
      intervalMs: 100,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess
    expect(result).toEqual({ current: current(EVENT), reads: 1, gaveUp: false });
    expect(clock.slept).toEqual([]);
  });

  it('returns after one read when the read shows a version other than the last published one', async () => {
    // Prepare: neither stale (not the last published) nor the event's: a later change won
    const reads = describeSequence(OTHER, LAST);
    const clock = virtualClock();

    // Act
    const result = await confirmCurrentVersion({
      describe: reads.describe,
      eventVersionId: EVENT,
      lastPublishedVersionId: LAST,
      windowMs: 1_000,
      intervalMs: 100,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess
    expect(result).toEqual({ current: current(OTHER), reads: 1, gaveUp: false });
  });

  it('returns after one read when the event names the last published version', async () => {
    // Prepare: a redelivered event for a change already broadcast is not a stale read
    const reads = describeSequence(LAST, EVENT);
    const clock = virtualClock();

    // Act
    const result = await confirmCurrentVersion({
      describe: reads.describe,
      eventVersionId: LAST,
      lastPublishedVersionId: LAST,
      windowMs: 1_000,
      intervalMs: 100,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess
    expect(result).toEqual({ current: current(LAST), reads: 1, gaveUp: false });
  });

  it('re-reads while the read still shows the last published version and returns as soon as it changes', async () => {
    // Prepare: two stale reads, then the event's version
    const reads = describeSequence(LAST, LAST, EVENT, OTHER);
    const clock = virtualClock();

    // Act
    const result = await confirmCurrentVersion({
      describe: reads.describe,
      eventVersionId: EVENT,
      lastPublishedVersionId: LAST,
      windowMs: 1_000,
      intervalMs: 100,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess
    expect(result).toEqual({ current: current(EVENT), reads: 3, gaveUp: false });
    expect(reads.calls()).toBe(3);
    expect(clock.slept).toEqual([100, 100]);
  });

  it('returns the first changed read even when it is not the event version', async () => {
    // Prepare
    const reads = describeSequence(LAST, OTHER, EVENT);
    const clock = virtualClock();

    // Act
    const result = await confirmCurrentVersion({
      describe: reads.describe,
      eventVersionId: EVENT,
      lastPublishedVersionId: LAST,
      windowMs: 1_000,
      intervalMs: 100,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess
    expect(result).toEqual({ current: current(OTHER), reads: 2, gaveUp: false });
  });

  it('gives up with the last read when the window ends while the read still looks stale', async () => {
    // Prepare
    const reads = describeSequence(LAST);
    const clock = virtualClock();
    const windowMs = 1_000;
    const intervalMs = 100;
    const start = clock.now();

    // Act
    const result = await confirmCurrentVersion({
      describe: reads.describe,
      eventVersionId: EVENT,
      lastPublishedVersionId: LAST,
      windowMs,
      intervalMs,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess: one read at the start plus one after each interval that fits in the window
    expect(result.gaveUp).toBe(true);
    expect(result.current).toEqual(current(LAST));
    expect(result.reads).toBe(windowMs / intervalMs + 1);
    expect(reads.calls()).toBe(result.reads);
    expect(clock.slept.every((ms) => ms === intervalMs)).toBe(true);
    expect(clock.now() - start).toBeLessThanOrEqual(windowMs);
  });

  it('bounds the reads by window / interval when the interval does not divide the window', async () => {
    // Prepare
    const reads = describeSequence(LAST);
    const clock = virtualClock();
    const start = clock.now();

    // Act
    const result = await confirmCurrentVersion({
      describe: reads.describe,
      eventVersionId: EVENT,
      lastPublishedVersionId: LAST,
      windowMs: 1_000,
      intervalMs: 300,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess: reads at +0, +300, +600, +900; a fifth at +1200 would be past the window
    expect(result).toMatchObject({ reads: Math.floor(1_000 / 300) + 1, gaveUp: true });
    expect(clock.slept).toEqual([300, 300, 300]);
    expect(clock.now() - start).toBeLessThanOrEqual(1_000);
  });

  it('reads once and gives up when the window is shorter than one interval', async () => {
    // Prepare
    const reads = describeSequence(LAST, EVENT);
    const clock = virtualClock();

    // Act
    const result = await confirmCurrentVersion({
      describe: reads.describe,
      eventVersionId: EVENT,
      lastPublishedVersionId: LAST,
      windowMs: 50,
      intervalMs: 100,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess
    expect(result).toEqual({ current: current(LAST), reads: 1, gaveUp: true });
    expect(clock.slept).toEqual([]);
  });

  it('counts the time spent in slow reads against the window', async () => {
    // Prepare: every DescribeSecret call takes 400 ms of (virtual) time
    const clock = virtualClock();
    let calls = 0;
    const describeSlowly = async (): Promise<CurrentVersion> => {
      calls += 1;
      clock.advance(400);
      return current(LAST);
    };

    // Act
    const result = await confirmCurrentVersion({
      describe: describeSlowly,
      eventVersionId: EVENT,
      lastPublishedVersionId: LAST,
      windowMs: 1_000,
      intervalMs: 100,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess: reads end at +400 and +900 (after one 100 ms pause); +900 + 100 reaches the deadline
    // but does not pass it, so a third read starts at +1000 and ends at +1400, past the deadline
    expect(result.gaveUp).toBe(true);
    expect(calls).toBe(3);
    expect(result.reads).toBe(3);
    expect(clock.slept).toEqual([100, 100]);
  });

  it('propagates an error thrown by the first read', async () => {
    // Prepare
    const failure = new SecretsManagerUnavailableError(ARN, 'DescribeSecret');
    const clock = virtualClock();

    // Act
    const confirming = confirmCurrentVersion({
      describe: () => Promise.reject(failure),
      eventVersionId: EVENT,
      lastPublishedVersionId: LAST,
      windowMs: 1_000,
      intervalMs: 100,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess
    await expect(confirming).rejects.toBe(failure);
    expect(clock.slept).toEqual([]);
  });

  it('propagates an error thrown by a re-read and stops re-reading', async () => {
    // Prepare
    const failure = new Error('network down');
    const clock = virtualClock();
    let calls = 0;
    const describe = async (): Promise<CurrentVersion> => {
      calls += 1;
      if (calls === 2) throw failure;
      return current(LAST);
    };

    // Act
    const confirming = confirmCurrentVersion({
      describe,
      eventVersionId: EVENT,
      lastPublishedVersionId: LAST,
      windowMs: 1_000,
      intervalMs: 100,
      sleep: clock.sleep,
      now: clock.now,
    });

    // Assess
    await expect(confirming).rejects.toBe(failure);
    expect(calls).toBe(2);
  });

  it('waits with real timers by default, so it re-reads only as fake time passes', async () => {
    // Prepare: no sleep or now injected; the defaults (setTimeout, Date.now) are faked
    vi.useFakeTimers();
    const reads = describeSequence(LAST, EVENT);

    // Act
    const confirming = confirmCurrentVersion({
      describe: reads.describe,
      eventVersionId: EVENT,
      lastPublishedVersionId: LAST,
      windowMs: 1_000,
      intervalMs: 250,
    });
    await vi.advanceTimersByTimeAsync(249);
    const readsBeforeInterval = reads.calls();
    await vi.advanceTimersByTimeAsync(1);
    const result = await confirming;

    // Assess
    expect(readsBeforeInterval).toBe(1);
    expect(result).toEqual({ current: current(EVENT), reads: 2, gaveUp: false });
  });
});

describe('confirmCurrentVersion: superseded events', () => {
  const base = { arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf', name: 's' };

  it.each([
    ['AWSPREVIOUS', ['AWSPREVIOUS']],
    ['no label (deprecated)', []],
  ])('returns at once when the read lists the event version as %s', async (_label, labels) => {
    // Prepare: the read already shows the last broadcast version as current.
    let reads = 0;
    const read = { ...base, versionId: 'last', stagesByVersion: { last: ['AWSCURRENT'], event: labels } };

    // Act
    const result = await confirmCurrentVersion({
      describe: async () => {
        reads += 1;
        return read;
      },
      eventVersionId: 'event',
      lastPublishedVersionId: 'last',
      windowMs: 60_000,
      intervalMs: 10,
      sleep: async () => undefined,
    });

    // Assess
    expect(result).toEqual({ current: read, reads: 1, gaveUp: false });
    expect(reads).toBe(1);
  });

  it('still re-reads when the read lists the event version as AWSPENDING (finishSecret not seen yet)', async () => {
    // Prepare
    const answers = [
      { ...base, versionId: 'last', stagesByVersion: { last: ['AWSCURRENT'], event: ['AWSPENDING'] } },
      { ...base, versionId: 'event', stagesByVersion: { last: ['AWSPREVIOUS'], event: ['AWSCURRENT'] } },
    ];
    let reads = 0;

    // Act
    const result = await confirmCurrentVersion({
      describe: async () => answers[Math.min(reads++, 1)] as (typeof answers)[number],
      eventVersionId: 'event',
      lastPublishedVersionId: 'last',
      windowMs: 60_000,
      intervalMs: 10,
      sleep: async () => undefined,
    });

    // Assess
    expect(result.current.versionId).toBe('event');
    expect(result.reads).toBe(2);
  });
});
