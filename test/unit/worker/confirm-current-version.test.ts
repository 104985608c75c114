import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CurrentVersion, SecretsManagerUnavailableError } from '../../../src/secrets/index.js';
import { confirmCurrentVersion, type ConfirmInput } from '../../../src/relay/worker/confirm-current-version.js';
import { tableOf } from '../../support/test-table.js';

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

interface VirtualClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  slept: number[];
  advance: (ms: number) => void;
}

/** A virtual clock: `sleep` advances `now` instantly and records each requested duration. */
function virtualClock(start = 1_000_000): VirtualClock {
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

/** The versions most cases know: the event names one, and another was broadcast last. */
const BOTH = { eventVersionId: EVENT, lastPublishedVersionId: LAST };

/** The input most cases share: a 1 s window re-read every 100 ms, on `clock`; `input` overrides. */
function onVirtualClock(clock: VirtualClock, input: Partial<ConfirmInput> & Pick<ConfirmInput, 'describe'>): ConfirmInput {
  return { windowMs: 1_000, intervalMs: 100, sleep: clock.sleep, now: clock.now, ...input };
}

/** One row of the answers → result table. */
interface ReadCase {
  title: string;
  /** What successive reads show (the last one repeats). */
  answers: string[];
  versions: Pick<ConfirmInput, 'eventVersionId' | 'lastPublishedVersionId'>;
  /** Overrides the shared 1 s window. */
  windowMs?: number;
  expected: { current: string; reads: number; gaveUp: boolean };
  slept: number[];
}

describe('confirmCurrentVersion', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  // Each row: what successive reads show, which versions the caller knows, and what comes back.
  // Every row checks the whole result, the reads actually made and the pauses taken.
  it.each(tableOf<ReadCase>([
    {
      title: 'returns after one read when the event names no version',
      answers: [LAST, EVENT],
      versions: { lastPublishedVersionId: LAST },
      expected: { current: LAST, reads: 1, gaveUp: false },
      slept: [],
    },
    {
      title: 'returns after one read when no version was published yet',
      answers: [LAST, EVENT],
      versions: { eventVersionId: EVENT },
      expected: { current: LAST, reads: 1, gaveUp: false },
      slept: [],
    },
    {
      title: 'returns after one read when the read already shows the event version',
      answers: [EVENT, LAST],
      versions: BOTH,
      expected: { current: EVENT, reads: 1, gaveUp: false },
      slept: [],
    },
    {
      // Neither stale (not the last published) nor the event's: a later change won.
      title: 'returns after one read when the read shows a version other than the last published one',
      answers: [OTHER, LAST],
      versions: BOTH,
      expected: { current: OTHER, reads: 1, gaveUp: false },
      slept: [],
    },
    {
      // A redelivered event for a change already broadcast is not a stale read.
      title: 'returns after one read when the event names the last published version',
      answers: [LAST, EVENT],
      versions: { eventVersionId: LAST, lastPublishedVersionId: LAST },
      expected: { current: LAST, reads: 1, gaveUp: false },
      slept: [],
    },
    {
      // Two stale reads, then the event's version.
      title: 're-reads while the read still shows the last published version and returns as soon as it changes',
      answers: [LAST, LAST, EVENT, OTHER],
      versions: BOTH,
      expected: { current: EVENT, reads: 3, gaveUp: false },
      slept: [100, 100],
    },
    {
      title: 'returns the first changed read even when it is not the event version',
      answers: [LAST, OTHER, EVENT],
      versions: BOTH,
      expected: { current: OTHER, reads: 2, gaveUp: false },
      slept: [100],
    },
    {
      title: 'reads once and gives up when the window is shorter than one interval',
      answers: [LAST, EVENT],
      versions: BOTH,
      windowMs: 50,
      expected: { current: LAST, reads: 1, gaveUp: true },
      slept: [],
    },
  ]))('%s', async (_title, { answers, versions, windowMs, expected, slept }) => {
    // Prepare
    const reads = describeSequence(...answers);
    const clock = virtualClock();

    // Act
    const result = await confirmCurrentVersion(onVirtualClock(clock, { describe: reads.describe, ...versions, ...(windowMs !== undefined ? { windowMs } : {}) }));

    // Assess
    expect(result).toEqual({ ...expected, current: current(expected.current) });
    expect(reads.calls()).toBe(expected.reads);
    expect(clock.slept).toEqual(slept);
  });

  it('gives up with the last read when the window ends while the read still looks stale', async () => {
    // Prepare
    const reads = describeSequence(LAST);
    const clock = virtualClock();
    const windowMs = 1_000;
    const intervalMs = 100;
    const start = clock.now();

    // Act
    const result = await confirmCurrentVersion(onVirtualClock(clock, { describe: reads.describe, ...BOTH, windowMs, intervalMs }));

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
    const result = await confirmCurrentVersion(onVirtualClock(clock, { describe: reads.describe, ...BOTH, intervalMs: 300 }));

    // Assess: reads at +0, +300, +600, +900; a fifth at +1200 would be past the window
    expect(result).toMatchObject({ reads: Math.floor(1_000 / 300) + 1, gaveUp: true });
    expect(clock.slept).toEqual([300, 300, 300]);
    expect(clock.now() - start).toBeLessThanOrEqual(1_000);
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
    const result = await confirmCurrentVersion(onVirtualClock(clock, { describe: describeSlowly, ...BOTH }));

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
    const confirming = confirmCurrentVersion(onVirtualClock(clock, { describe: () => Promise.reject(failure), ...BOTH }));

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
    const confirming = confirmCurrentVersion(onVirtualClock(clock, { describe, ...BOTH }));

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
