import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createInvalidationVerifier, serializeInvalidation, signInvalidation } from '../../../src/protocol/index.js';
import { ClockSkewMonitor } from '../../../src/sdk/cache/clock-skew.js';
import { rejectionOf, type ListenerRejection } from '../../../src/sdk/cache/invalidation-listener.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import { captureLogs } from '../../support/log-capture.js';
import { KEY_A, KEY_B, PUBLISHED_MS, baseInvalidation } from '../../support/protocol-fixtures.js';

const TOLERANCE_MS = 30_000;
const MAX_AGE_MS = 300_000;

/**
 * What the listener would emit for a genuine message published at PUBLISHED_MS and received by a
 * host whose clock reads `skewMs` away from the worker's: the real verifier with a fake `now`.
 */
function receivedWithSkew(skewMs: number, options: { id?: string; keys?: string[]; signWith?: string } = {}): ListenerRejection {
  const keys = options.keys ?? [KEY_A];
  const message = baseInvalidation({ id: options.id ?? randomUUID() });
  const raw = serializeInvalidation(options.signWith === undefined ? message : signInvalidation(message, [options.signWith]));
  const verifier = createInvalidationVerifier({ keys, maxAgeMs: MAX_AGE_MS, clockSkewToleranceMs: TOLERANCE_MS, now: () => PUBLISHED_MS + skewMs });
  const result = verifier.verify(raw);
  if (result.ok) throw new Error(`expected a rejection at skew ${skewMs} ms`);
  return rejectionOf(result);
}

function setup() {
  const logs = captureLogs({ level: 'debug' });
  const metrics = new MetricsRecorderDouble();
  const monitor = new ClockSkewMonitor({ logger: logs.logger, metrics, clockSkewToleranceMs: TOLERANCE_MS, maxAgeMs: MAX_AGE_MS });
  const warnings = () => logs.lines().filter((line) => line.level === 'warn');
  return { monitor, metrics, warnings };
}

describe('ClockSkewMonitor', () => {
  it('warns once, with the measured skew and "worker ahead", when this host is 2 minutes behind', () => {
    // Prepare
    const { monitor, metrics, warnings } = setup();

    // Act: three genuine messages, all from the future by this host's clock.
    const counted = [0, 1, 2].map(() => monitor.observe(receivedWithSkew(-120_000, { signWith: KEY_A })));

    // Assess
    expect(counted).toEqual([true, true, true]);
    expect(metrics.total('ClockSkewDetected')).toBe(3);
    const [warning, ...more] = warnings();
    expect(more).toEqual([]);
    expect(warning).toMatchObject({ code: 'from-the-future', skewMs: 120_000, ahead: 'worker', clockSkewToleranceMs: 30_000, maxAgeMs: 300_000 });
    expect(String(warning?.msg)).toContain('published 120000 ms ahead of this host');
    expect(String(warning?.msg)).toContain('raise clockSkewToleranceMs');
    expect(monitor.status()).toEqual({ skewMs: 120_000, ahead: 'worker' });
  });

  it('warns once with "this host ahead" when its clock is ahead by more than the max age', () => {
    // Prepare
    const { monitor, metrics, warnings } = setup();

    // Act
    monitor.observe(receivedWithSkew(360_000, { signWith: KEY_A }));
    monitor.observe(receivedWithSkew(360_000, { signWith: KEY_A }));

    // Assess
    expect(metrics.total('ClockSkewDetected')).toBe(2);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ code: 'too-old', skewMs: -360_000, ahead: 'this host' });
    expect(String(warnings()[0]?.msg)).toContain('or the message is a replay');
    expect(monitor.status()).toEqual({ skewMs: -360_000, ahead: 'this host' });
  });

  it('reports the latest skew measured in status, after the single warning', () => {
    // Prepare
    const { monitor } = setup();

    // Act
    monitor.observe(receivedWithSkew(-120_000, { signWith: KEY_A }));
    monitor.observe(receivedWithSkew(-90_000, { signWith: KEY_A }));

    // Assess
    expect(monitor.status()).toEqual({ skewMs: 90_000, ahead: 'worker' });
  });

  it('counts a repeated message id once: a replay says nothing new about clocks', () => {
    // Prepare
    const { monitor, metrics } = setup();
    const id = randomUUID();

    // Act
    const counted = Array.from({ length: 50 }, () => monitor.observe(receivedWithSkew(400_000, { id, signWith: KEY_A })));

    // Assess
    expect(counted.filter(Boolean)).toHaveLength(1);
    expect(metrics.total('ClockSkewDetected')).toBe(1);
  });

  it('ignores freshness failures of unverified messages: a forger chooses publishedAt', () => {
    // Prepare
    const { monitor, metrics, warnings } = setup();

    // Act: no keys configured (the clock reading is unsigned), and a signature that does not verify.
    const unsigned = monitor.observe(receivedWithSkew(-120_000, { keys: [] }));
    const forged = monitor.observe(receivedWithSkew(-120_000, { signWith: KEY_B }));

    // Assess
    expect([unsigned, forged]).toEqual([false, false]);
    expect(metrics.total('ClockSkewDetected')).toBe(0);
    expect(warnings()).toEqual([]);
    expect(monitor.status()).toBeUndefined();
  });
});
