import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StartGate } from '../../../src/sdk/cache/start-gate.js';

describe('StartGate: invalidation-driven refreshes start once the process is quiet', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const gate = (quietMs: number, maxWaitMs = 20) => new StartGate(quietMs, maxWaitMs, () => Date.now());

  it('holds every start until nothing new was asked for quietMs, then runs them all together', () => {
    // Prepare
    const g = gate(2);
    const started: string[] = [];

    // Act: three caches get the broadcast 1 ms apart
    g.defer(() => started.push('a'));
    vi.advanceTimersByTime(1);
    g.defer(() => started.push('b'));
    vi.advanceTimersByTime(1);
    g.defer(() => started.push('c'));
    vi.advanceTimersByTime(1);
    const beforeQuiet = [...started];
    vi.advanceTimersByTime(2);

    // Assess
    expect(beforeQuiet).toEqual([]);
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('never waits longer than maxWaitMs after the first start, however long starts keep coming', () => {
    const g = gate(2, 10);
    const started: number[] = [];
    for (let i = 0; i < 30; i += 1) {
      g.defer(() => started.push(i));
      vi.advanceTimersByTime(1);
    }
    // The first ten (asked for within 10 ms of the first) ran at the bound; the rest wait their turn.
    expect(started.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    vi.advanceTimersByTime(20);
    expect(started).toHaveLength(30);
  });

  it('drops a cancelled start (its cache stopped) and runs the others', () => {
    const g = gate(2);
    const started: string[] = [];
    g.defer(() => started.push('a'));
    g.defer(() => started.push('b')).cancel();
    vi.advanceTimersByTime(5);
    expect(started).toEqual(['a']);
  });

  it('with quietMs 0 starts on the next turn of the event loop, as before the gate', () => {
    const g = gate(0);
    const started: string[] = [];
    g.defer(() => started.push('a'));
    expect(started).toEqual([]);
    vi.runOnlyPendingTimers();
    expect(started).toEqual(['a']);
  });
});
