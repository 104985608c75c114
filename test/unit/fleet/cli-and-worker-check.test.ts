import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/ops/cli/commands/fleet-common.js';
import { EXIT } from '../../../src/ops/cli/exit-codes.js';
import type { CliIo } from '../../../src/ops/cli/io.js';
import { runCli } from '../../../src/ops/cli/run.js';
import { InstancesStaleCheck } from '../../../src/relay/worker/instances-stale.js';
import { captureLogger } from '../../support/log-capture.js';
import { MetricsRecorderDouble } from '../../support/metrics-recorder-double.js';
import type { RedisClient } from '../../../src/common/redis-client.js';

function io(env: Record<string, string> = {}): CliIo & { outLines: string[]; errLines: string[] } {
  const lines = { outLines: [] as string[], errLines: [] as string[] };
  return {
    ...lines,
    out: (line) => lines.outLines.push(line),
    err: (line) => lines.errLines.push(line),
    readStdin: async () => '',
    env,
    untilSignal: () => new Promise<NodeJS.Signals>(() => undefined),
  };
}

describe('fleet commands: usage (no services needed)', () => {
  it.each(['wait-converged', 'drill', 'status'])('%s --help prints its usage and exits 0', async (command) => {
    // Prepare
    const cli = io();

    // Act
    const code = await runCli([command, '--help'], cli);

    // Assess
    expect(code).toBe(0);
    expect(cli.outLines[0]).toMatch(new RegExp(`^Usage: rotation-relay ${command}\\b`));
  });

  it('gives wait-converged an exit code of its own for unaccounted subscribers, distinct from the others, and documents it in its help', async () => {
    // Prepare
    const cli = io();

    // Act
    await runCli(['wait-converged', '--help'], cli);

    // Assess
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).toBe(codes.length);
    expect(EXIT.unaccountedSubscribers).toBe(3);
    expect(cli.outLines[0]).toMatch(/^ {2}3 {2}timed out while subscribers on the channel report no presence/m);
    expect(cli.outLines[0]).toMatch(/--timeout D +the whole deadline, Redis connection and DescribeSecret included/);
  });

  it('lists wait-converged and drill in the main help', async () => {
    const cli = io();
    await runCli(['--help'], cli);
    expect(cli.outLines[0]).toMatch(/ {2}wait-converged +wait until every live app instance holds a version of a secret/);
    expect(cli.outLines[0]).toMatch(/ {2}drill +rotate a secret now/);
  });

  it.each([
    [['wait-converged'], /exactly one SECRET/],
    [['wait-converged', 'a', 'b'], /exactly one SECRET/],
    [['wait-converged', 'app/db', '--timeout', '1d'], /--timeout takes a duration/],
    [['wait-converged', 'app/db', '--min-instances', '1.5'], /--min-instances takes a whole number/],
    [['wait-converged', 'app/db', '--allow-unaccounted', 'some'], /--allow-unaccounted takes a whole number/],
    [['wait-converged', 'app/db'], /needs AWS_REGION/],
    [['drill'], /exactly one SECRET/],
    [['drill', 'app/db', '--poll', 'fast'], /--poll takes a duration/],
  ])('exits 2 for %j', async (argv, message) => {
    // Prepare
    const cli = io();

    // Act
    const code = await runCli(argv, cli);

    // Assess
    expect(code).toBe(2);
    expect(cli.errLines.join('\n')).toMatch(message);
  });

  it.each([
    ['500ms', 500],
    ['1.5s', 1_500],
    ['60s', 60_000],
    ['60', 60_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
  ])('parses the duration %s', (text, ms) => {
    expect(parseDuration(text, '--timeout')).toBe(ms);
  });

  it('formats durations short', () => {
    expect([850, 12_345, 125_000, 3_720_000].map(formatDuration)).toEqual(['850 ms', '12.3 s', '2m 05s', '1h 02m']);
  });
});

describe('InstancesStaleCheck (the worker gauge)', () => {
  it('costs one ZCARD when no instance registers, and still emits 0 so the alarm recovers', async () => {
    // Prepare
    const calls: string[] = [];
    const redis = { status: 'ready', zcard: async (key: string) => (calls.push(`zcard ${key}`), 0) } as unknown as RedisClient;
    const metrics = new MetricsRecorderDouble();
    const check = new InstancesStaleCheck({ redis: () => redis, keyPrefix: 'rotation-relay', metrics, logger: captureLogger().logger });

    // Act
    const count = await check.check();

    // Assess
    expect(count).toBe(0);
    expect(calls).toEqual(['zcard {rotation-relay}:instances']);
    expect(metrics.recorded).toEqual([{ kind: 'count', name: 'InstancesStale', value: 0 }]);
  });

  it('skips (emits nothing) while Redis is not ready', async () => {
    // Prepare
    const metrics = new MetricsRecorderDouble();
    const check = new InstancesStaleCheck({ redis: () => ({ status: 'reconnecting' }) as unknown as RedisClient, keyPrefix: 'rotation-relay', metrics, logger: captureLogger().logger });

    // Act
    const count = await check.check();

    // Assess
    expect(count).toBeUndefined();
    expect(metrics.recorded).toEqual([]);
  });
});
