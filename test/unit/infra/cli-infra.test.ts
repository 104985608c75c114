import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../../src/ops/cli/io.js';
import { runCli } from '../../../src/ops/cli/run.js';

function fakeIo(env: Record<string, string> = {}): CliIo & { outLines: string[]; errLines: string[] } {
  const io = {
    outLines: [] as string[],
    errLines: [] as string[],
    out: (line: string) => void io.outLines.push(line),
    err: (line: string) => void io.errLines.push(line),
    readStdin: async () => '',
    env: Object.freeze({ ...env }),
    untilSignal: () => new Promise<NodeJS.Signals>(() => undefined),
  };
  return io;
}

describe('rotation-relay infra (usage, no AWS calls)', () => {
  it('is listed in the main help and has its own help', async () => {
    // Prepare
    const main = fakeIo();
    const help = fakeIo();

    // Act
    await runCli(['--help'], main);
    const code = await runCli(['infra', '--help'], help);

    // Assess
    expect(main.outLines[0]).toMatch(/^\s+infra\s+plan, apply, destroy or verify/m);
    expect(code).toBe(0);
    expect(help.outLines[0]).toMatch(/^Usage: rotation-relay infra <plan\|apply\|destroy\|verify>/);
    for (const flag of ['--name', '--secret-arn', '--secret-prefix', '--max-receive-count', '--json', '--method', '--redrive-principal', '--force']) {
      expect(help.outLines[0]).toContain(flag);
    }
  });

  it.each([
    [[], /infra takes one of plan, apply, destroy, verify/],
    [['deploy'], /got "deploy"/],
    [['plan', 'extra'], /got "plan extra"/],
    [['plan', '--name', 'has space'], /--name "has space"/],
    [['plan', '--name', 'x'.repeat(49)], /--name/],
    [['apply', '--secret-arn', 'prod/db'], /not a full Secrets Manager ARN/],
    [['apply', '--secret-arn', 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:a-AbCdEf', '--secret-prefix', 'p'], /not both/],
    [['apply', '--secret-prefix', '*', '--max-receive-count', '0'], /--max-receive-count must be a whole number from 1 to 1000/],
    [['apply', '--secret-prefix', '*', '--max-receive-count', '2.5'], /--max-receive-count/],
    [['verify', '--secret-prefix', '*', '--method', 'guess'], /--method must be auto, test-pattern or mirror/],
    [['plan', '--bogus'], /bogus/],
    [['apply'], /say which secrets to forward: --secret-prefix PREFIX or --secret-arn ARN/],
    [['plan'], /say which secrets to forward/],
    [['verify'], /say which secrets to forward/],
    [['apply', '--secret-prefix', '*', '--redrive-principal', 'ops'], /--redrive-principal "ops" must be an IAM role or user ARN/],
    [['apply', '--secret-prefix', '*', '--force'], /--force applies only to destroy/],
  ])('exits 2 for %j, naming the problem', async (argv, message) => {
    // Prepare
    const io = fakeIo({ AWS_REGION: 'eu-west-1' });

    // Act
    const code = await runCli(['infra', ...argv], io);

    // Assess
    expect(code).toBe(2);
    expect(io.errLines.join('\n')).toMatch(message);
    expect(io.outLines).toEqual([]);
  });

  it('exits 2 naming AWS_REGION when no region is configured', async () => {
    // Prepare
    const io = fakeIo();

    // Act
    const code = await runCli(['infra', 'plan', '--secret-prefix', '*'], io);

    // Assess
    expect(code).toBe(2);
    expect(io.errLines.join('\n')).toMatch(/configuration: AWS_REGION/);
  });
});
