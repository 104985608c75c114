import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MetricsEmitter } from '../../../src/metrics/index.js';
import { DEFAULT_REJECTION_SUMMARY_INTERVAL_MS, RejectionLog } from '../../../src/sdk/cache/rejection-log.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import { captureLogs } from '../../support/log-capture.js';
import { expectValidEmf } from '../../support/emf-assertions.js';

const BAD_SIG = { code: 'bad-signature', reason: 'sig does not match any configured key' } as const;
const UNSIGNED = { code: 'unsigned', reason: 'message has no sig and signing keys are configured' } as const;

function setup(intervalMs?: number) {
  const logs = captureLogs({ level: 'debug' });
  const metrics = new MetricsRecorderDouble();
  const log = new RejectionLog({ logger: logs.logger, metrics, ...(intervalMs !== undefined ? { intervalMs } : {}) });
  const warnings = () => logs.lines().filter((line) => line.level === 'warn');
  return { logs, metrics, log, warnings };
}

describe('RejectionLog', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('summarises once a minute by default', () => {
    expect(DEFAULT_REJECTION_SUMMARY_INTERVAL_MS).toBe(60_000);
  });

  it('turns 10 000 rejections into one full line and one summary line', () => {
    // Prepare
    const { log, warnings } = setup();

    // Act
    for (let i = 0; i < 10_000; i += 1) log.record(BAD_SIG);
    const beforeSummary = warnings().length;
    vi.advanceTimersByTime(60_000);

    // Assess
    expect(beforeSummary).toBe(1);
    const [first, summary, ...rest] = warnings();
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ code: 'bad-signature', reason: 'sig does not match any configured key', summaryIntervalMs: 60_000 });
    expect(summary).toMatchObject({ rejected: { 'bad-signature': 9_999 }, total: 9_999, intervalMs: 60_000 });
  });

  it('logs every rejection at debug only, so the default level sees none of the flood', () => {
    // Prepare
    const { log, logs } = setup();

    // Act
    for (let i = 0; i < 3; i += 1) log.record(BAD_SIG);

    // Assess
    const debug = logs.lines().filter((line) => line.level === 'debug');
    expect(debug).toHaveLength(3);
    expect(debug.every((line) => line.msg === 'invalidation rejected' && line.code === 'bad-signature')).toBe(true);
  });

  it('logs the first rejection of each reason in full and counts the rest by reason', () => {
    // Prepare
    const { log, warnings } = setup();

    // Act
    log.record(BAD_SIG);
    log.record(UNSIGNED);
    log.record(BAD_SIG);
    log.record(UNSIGNED);
    log.record(UNSIGNED);
    vi.advanceTimersByTime(60_000);

    // Assess
    expect(warnings().map((line) => line.code ?? line.rejected)).toEqual(['bad-signature', 'unsigned', { 'bad-signature': 1, unsigned: 2 }]);
  });

  it('writes no summary for a period whose only rejections were logged in full', () => {
    // Prepare
    const { log, warnings } = setup();

    // Act
    log.record(BAD_SIG);
    vi.advanceTimersByTime(120_000);

    // Assess
    expect(warnings()).toHaveLength(1);
  });

  it('keeps summarising a reason that goes on, and logs it in full again after a quiet period', () => {
    // Prepare
    const { log, warnings } = setup(1_000);

    // Act: a flood over two periods, one period without it, then it comes back.
    log.record(BAD_SIG);
    vi.advanceTimersByTime(1_000);
    log.record(BAD_SIG);
    vi.advanceTimersByTime(1_000);
    vi.advanceTimersByTime(1_000);
    log.record(BAD_SIG);

    // Assess
    expect(warnings().map((line) => (line.code !== undefined ? 'full' : line.total))).toEqual(['full', 1, 'full']);
  });

  it('emits InvalidationsRejected once per period: by Reason, and the total without Reason', () => {
    // Prepare
    const { log, metrics } = setup();

    // Act
    for (let i = 0; i < 500; i += 1) log.record(BAD_SIG);
    log.record(UNSIGNED);
    const beforeTick = metrics.recorded.length;
    vi.advanceTimersByTime(60_000);

    // Assess
    expect(beforeTick).toBe(0);
    expect(metrics.recorded).toEqual([
      { kind: 'count', name: 'InvalidationsRejected', value: 500, dimensions: { Reason: 'bad-signature' } },
      { kind: 'count', name: 'InvalidationsRejected', value: 1, dimensions: { Reason: 'unsigned' } },
      { kind: 'count', name: 'InvalidationsRejected', value: 501 },
    ]);
  });

  it('writes EMF a Service-only dashboard graph can read, next to the per-Reason series', () => {
    // Prepare: the real emitter, as the worker and apps build it.
    const logs = captureLogs();
    const metrics = new MetricsEmitter({ logger: logs.logger, flushIntervalMs: 0 });
    const log = new RejectionLog({ logger: logs.logger, metrics });

    // Act
    for (let i = 0; i < 3; i += 1) log.record(BAD_SIG);
    log.close();
    metrics.flush();

    // Assess
    const emf = logs.emfLines();
    for (const line of emf) expectValidEmf(line);
    const series = emf.map((line) => {
      const directive = (line._aws as { CloudWatchMetrics: Array<{ Dimensions: string[][] }> }).CloudWatchMetrics[0];
      return { dimensions: directive?.Dimensions, reason: line.Reason, value: line.InvalidationsRejected };
    });
    expect(series).toHaveLength(2);
    expect(series).toEqual(
      expect.arrayContaining([
        { dimensions: [['Service']], reason: undefined, value: 3 },
        { dimensions: [['Service', 'Reason']], reason: 'bad-signature', value: 3 },
      ]),
    );
  });

  it('keeps no timer once rejections stopped for a whole period', () => {
    // Prepare
    const { log } = setup(1_000);

    // Act
    log.record(BAD_SIG);
    vi.advanceTimersByTime(1_000);
    const afterBusyPeriod = vi.getTimerCount();
    vi.advanceTimersByTime(1_000);

    // Assess
    expect(afterBusyPeriod).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('writes the pending counts on close, and a rejection after close at once', () => {
    // Prepare
    const { log, metrics, warnings } = setup();
    log.record(BAD_SIG);
    log.record(BAD_SIG);

    // Act
    log.close();
    const afterClose = metrics.total('InvalidationsRejected');
    log.record(UNSIGNED);

    // Assess
    expect(afterClose).toBe(2 * 2); // by Reason + the total
    expect(metrics.total('InvalidationsRejected')).toBe(2 * 3);
    expect(warnings().map((line) => line.code ?? line.total)).toEqual(['bad-signature', 1, 'unsigned']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses an interval that is not a positive number of ms', () => {
    expect(() => setup(0)).toThrow('rejection summary intervalMs must be a positive number of ms, got 0');
  });
});
