import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/ops/cli/run.js';
import { cliIoDouble } from '../../support/cli-io-double.js';
import { SAMPLE_FILES, readSample, snsWrap, type SampleFile } from '../../support/event-fixtures.js';


function samplePath(file: string): string {
  return fileURLToPath(new URL(`../../../infra/samples/${file}`, import.meta.url));
}

const COMMANDS = ['worker', 'listen', 'publish', 'status', 'inspect-event'] as const;

/** What the worker does with each shared sample, as `inspect-event` prints it. */
const EXPECTED: Record<SampleFile, { action: string; secretArn: string; versionId?: string }> = {
  'secret-label-updated.json': {
    action: 'invalidate',
    secretArn: 'arn:aws:secretsmanager:us-west-2:012345678901:secret:mySecret-a1b2c3',
    versionId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
  },
  'rotation-succeeded.json': {
    action: 'invalidate',
    secretArn: 'arn:aws:secretsmanager:us-west-2:accountid:secret:Appuser-pyodbc-WoDpmU',
  },
  'rotation-failed.json': {
    action: 'alert',
    secretArn: 'arn:aws:secretsmanager:us-east-2:123456789012:secret:MyDatabaseSecret-a1b2c3',
  },
  'put-secret-value.json': {
    action: 'invalidate',
    secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/test-secret-123456',
  },
};

describe('runCli', () => {
  describe('help and command dispatch', () => {
    it('prints the main help and exits 2 when no command is given', async () => {
      // Prepare
      const io = cliIoDouble();

      // Act
      const code = await runCli([], io);

      // Assess
      expect(code).toBe(2);
      expect(io.outLines).toHaveLength(1);
      expect(io.outLines[0]).toMatch(/^Usage: rotation-relay <command>/);
      for (const command of COMMANDS) expect(io.outLines[0]).toContain(command);
    });

    it.each(['--help', '-h', 'help'])('prints the main help and exits 0 for %s', async (flag) => {
      // Prepare
      const io = cliIoDouble();

      // Act
      const code = await runCli([flag], io);

      // Assess
      expect(code).toBe(0);
      expect(io.outLines[0]).toMatch(/^Usage: rotation-relay <command>/);
      expect(io.errLines).toEqual([]);
    });

    it('exits 2 and names the command when it is unknown', async () => {
      // Prepare
      const io = cliIoDouble();

      // Act
      const code = await runCli(['frobnicate', '--now'], io);

      // Assess
      expect(code).toBe(2);
      expect(io.outLines).toEqual([]);
      expect(io.errText()[0]).toBe('rotation-relay: unknown command "frobnicate"');
    });

    it.each(COMMANDS)('prints the usage of %s and exits 0 for "<command> --help"', async (command) => {
      // Prepare
      const io = cliIoDouble();

      // Act
      const code = await runCli([command, '--help'], io);

      // Assess
      expect(code).toBe(0);
      expect(io.outLines).toHaveLength(1);
      expect(io.outLines[0]?.split('\n')[0]).toMatch(new RegExp(`^Usage: rotation-relay ${command}\\b`));
      expect(io.errLines).toEqual([]);
    });

    it('shows the help instead of running a command when -h follows other arguments', async () => {
      // Prepare: with an empty env the worker would fail on configuration if it ran
      const io = cliIoDouble();

      // Act
      const code = await runCli(['worker', '--unknown', '-h'], io);

      // Assess
      expect(code).toBe(0);
      expect(io.outLines[0]).toMatch(/^Usage: rotation-relay worker/);
      expect(io.errLines).toEqual([]);
    });
  });

  describe('inspect-event', () => {
    let dir = '';

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'rotation-relay-cli-'));
    });

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    it.each(SAMPLE_FILES)('prints one JSON line with the decision for %s and exits 0', async (file) => {
      // Prepare
      const io = cliIoDouble();
      const expected = EXPECTED[file];

      // Act
      const code = await runCli(['inspect-event', samplePath(file)], io);

      // Assess
      expect(code).toBe(0);
      expect(io.errLines).toEqual([]);
      expect(io.outLines).toHaveLength(1);
      expect(io.outLines[0]).not.toContain('\n');
      const line = JSON.parse(io.outLines[0] ?? '') as Record<string, unknown>;
      expect(line['action']).toBe(expected.action);
      expect(line['secretArn']).toBe(expected.secretArn);
      expect(line['versionId']).toBe(expected.versionId);
      expect(typeof line['reason']).toBe('string');
      expect(io.stdinReads).toBe(0);
    });

    it('reads the body from stdin when the file is "-"', async () => {
      // Prepare
      const io = cliIoDouble({ stdin: readSample('secret-label-updated.json') });

      // Act
      const code = await runCli(['inspect-event', '-'], io);

      // Assess
      expect(code).toBe(0);
      expect(io.stdinReads).toBe(1);
      expect(io.outLines).toHaveLength(1);
      expect(JSON.parse(io.outLines[0] ?? '')).toMatchObject({
        action: 'invalidate',
        secretArn: EXPECTED['secret-label-updated.json'].secretArn,
        versionId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
      });
    });

    it('reads the body from stdin when no file is given', async () => {
      // Prepare
      const io = cliIoDouble({ stdin: readSample('rotation-failed.json') });

      // Act
      const code = await runCli(['inspect-event'], io);

      // Assess
      expect(code).toBe(0);
      expect(io.stdinReads).toBe(1);
      expect(JSON.parse(io.outLines[0] ?? '')).toMatchObject({ action: 'alert' });
    });

    it('prints action reject and exits 2 for a body it cannot understand', async () => {
      // Prepare
      const io = cliIoDouble({ stdin: 'this is not an event' });

      // Act
      const code = await runCli(['inspect-event', '-'], io);

      // Assess
      expect(code).toBe(2);
      expect(io.outLines).toHaveLength(1);
      expect(JSON.parse(io.outLines[0] ?? '')).toEqual({ action: 'reject', reason: 'body is not JSON' });
    });

    it('prints action reject and exits 2 for a rejected file', async () => {
      // Prepare
      const file = join(dir, 'foreign.json');
      await writeFile(file, JSON.stringify({ id: 'evt-x', source: 'aws.s3', 'detail-type': 'Object Created', detail: {}, resources: [] }));
      const io = cliIoDouble();

      // Act
      const code = await runCli(['inspect-event', file], io);

      // Assess
      expect(code).toBe(2);
      expect(io.outLines).toHaveLength(1);
      expect(JSON.parse(io.outLines[0] ?? '')).toMatchObject({ action: 'reject', eventId: 'evt-x' });
    });

    it('unwraps an SNS notification around a sample', async () => {
      // Prepare
      const file = join(dir, 'sns.json');
      await writeFile(file, JSON.stringify(snsWrap(JSON.parse(readSample('secret-label-updated.json')))));
      const io = cliIoDouble();

      // Act
      const code = await runCli(['inspect-event', file], io);

      // Assess
      expect(code).toBe(0);
      expect(JSON.parse(io.outLines[0] ?? '')).toMatchObject(EXPECTED['secret-label-updated.json']);
    });

    it('exits 2 with a message naming the file when it does not exist', async () => {
      // Prepare
      const missing = join(dir, 'does-not-exist.json');
      const io = cliIoDouble();

      // Act
      const code = await runCli(['inspect-event', missing], io);

      // Assess
      expect(code).toBe(2);
      expect(io.outLines).toEqual([]);
      expect(io.errText()[0]).toContain(missing);
      expect(io.errText()[0]).toContain('ENOENT');
    });

    it('exits 2 when given more than one file', async () => {
      // Prepare
      const io = cliIoDouble();

      // Act
      const code = await runCli(['inspect-event', samplePath('rotation-failed.json'), samplePath('put-secret-value.json')], io);

      // Assess
      expect(code).toBe(2);
      expect(io.outLines).toEqual([]);
      expect(io.errText()[0]).toContain('at most one FILE');
    });
  });

  describe('worker', () => {
    it('exits 2 with one stderr line naming the missing variable when the env is empty', async () => {
      // Prepare
      const io = cliIoDouble({ env: {} });

      // Act
      const code = await runCli(['worker'], io);

      // Assess
      expect(code).toBe(2);
      expect(io.outLines).toEqual([]);
      expect(io.errText()).toHaveLength(1);
      expect(io.errText()[0]).toMatch(/ROTATION_RELAY_QUEUE_URL|AWS_REGION/);
    });

    it('names ROTATION_RELAY_QUEUE_URL when only the region is set', async () => {
      // Prepare
      const io = cliIoDouble({ env: { AWS_REGION: 'eu-west-1' } });

      // Act
      const code = await runCli(['worker'], io);

      // Assess
      expect(code).toBe(2);
      expect(io.errText()).toHaveLength(1);
      expect(io.errText()[0]).toContain('ROTATION_RELAY_QUEUE_URL');
    });

    it('does not echo a malformed signing key in the configuration error', async () => {
      // Prepare
      const io = cliIoDouble({
        env: {
          AWS_REGION: 'eu-west-1',
          ROTATION_RELAY_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/rotation-relay',
          ROTATION_RELAY_SIGNING_KEYS: 'short-KeyMarker-42',
        },
      });

      // Act
      const code = await runCli(['worker'], io);

      // Assess
      expect(code).toBe(2);
      expect(io.errText()).toHaveLength(1);
      expect(io.errText()[0]).toContain('ROTATION_RELAY_SIGNING_KEYS');
      expect(io.errText()[0]).not.toContain('KeyMarker');
    });
  });

  describe('worker: signing is required', () => {
    const env = { AWS_REGION: 'eu-west-1', ROTATION_RELAY_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/rotation-relay' };

    it('exits 2 without keys, naming both variables and how to make a key, in one stderr line', async () => {
      // Prepare
      const io = cliIoDouble({ env });

      // Act
      const code = await runCli(['worker'], io);

      // Assess
      expect(code).toBe(2);
      expect(io.errText()).toHaveLength(1);
      expect(io.errText()[0]).toMatch(/^rotation-relay worker: configuration: ROTATION_RELAY_SIGNING_KEYS: expected .*`openssl rand -base64 48`.*set ROTATION_RELAY_ALLOW_UNSIGNED=true\)$/);
    });

    it('exits 2 naming ROTATION_RELAY_ALLOW_UNSIGNED when it is not a boolean', async () => {
      // Prepare
      const io = cliIoDouble({ env: { ...env, ROTATION_RELAY_ALLOW_UNSIGNED: 'yes please' } });

      // Act
      const code = await runCli(['worker'], io);

      // Assess
      expect(code).toBe(2);
      expect(io.errText()).toEqual(['rotation-relay worker: configuration: ROTATION_RELAY_ALLOW_UNSIGNED: expected true or false']);
    });

    it('says in its help that keys are required, how to make one, and what the opt-in means', async () => {
      // Prepare
      const io = cliIoDouble();

      // Act
      await runCli(['worker', '--help'], io);

      // Assess
      const help = io.outLines.join('\n');
      expect(help).toContain('ROTATION_RELAY_SIGNING_KEYS');
      expect(help).toContain('openssl rand -base64 48');
      expect(help).toMatch(/ROTATION_RELAY_ALLOW_UNSIGNED=true asks for unsigned mode/);
    });
  });

  describe('listen', () => {
    it('documents --allow-unsigned and the signing variables in its help', async () => {
      // Prepare
      const io = cliIoDouble();

      // Act
      await runCli(['listen', '--help'], io);

      // Assess
      const help = io.outLines.join('\n');
      expect(help).toMatch(/--allow-unsigned\s+run without ROTATION_RELAY_SIGNING_KEYS, verifying nothing \(default: refuse\)/);
      expect(help).toContain('ROTATION_RELAY_CLOCK_SKEW_TOLERANCE_MS');
      expect(help).toContain('ROTATION_RELAY_ALLOW_UNSIGNED (default false)');
    });

    it('exits 2 without keys before connecting, naming the flag as well as the variable', async () => {
      // Prepare: a Redis nobody listens on; refusing must not need it.
      const io = cliIoDouble({ env: { ROTATION_RELAY_REDIS_URL: 'redis://127.0.0.1:1' } });

      // Act
      const code = await runCli(['listen'], io);

      // Assess
      expect(code).toBe(2);
      expect(io.errText()).toHaveLength(1);
      expect(io.errText()[0]).toMatch(/^rotation-relay listen: configuration: ROTATION_RELAY_SIGNING_KEYS: expected .*set ROTATION_RELAY_ALLOW_UNSIGNED=true or pass --allow-unsigned\)$/);
    });

    it.each([['x'], ['0'], ['1.5']])('exits 2 for --count %s before connecting anywhere', async (count) => {
      // Prepare
      const io = cliIoDouble();

      // Act
      const code = await runCli(['listen', '--count', count], io);

      // Assess
      expect(code).toBe(2);
      expect(io.outLines).toEqual([]);
      expect(io.errText()[0]).toContain('--count');
      expect(io.errText()).toContain('Usage: rotation-relay listen [--count N] [--timeout DURATION] [--allow-unsigned]');
    });

    it.each([['soon'], ['0s']])('exits 2 for --timeout %s before connecting anywhere', async (timeout) => {
      // Prepare
      const io = cliIoDouble();

      // Act
      const code = await runCli(['listen', '--timeout', timeout], io);

      // Assess
      expect(code).toBe(2);
      expect(io.errText()[0]).toMatch(/^rotation-relay listen: --timeout takes a duration/);
    });

    it('documents the default of --timeout in its help', async () => {
      // Prepare
      const io = cliIoDouble();

      // Act
      await runCli(['listen', '--help'], io);

      // Assess
      expect(io.outLines[0]).toContain('(default 30s)');
    });

    it('exits 2 for an unknown option', async () => {
      // Prepare
      const io = cliIoDouble();

      // Act
      const code = await runCli(['listen', '--verbose'], io);

      // Assess
      expect(code).toBe(2);
      expect(io.errText()[0]).toContain('--verbose');
    });
  });

  describe('configuration errors: one line naming the variable, exit 2', () => {
    const CASES: Array<[string, string[], Record<string, string>, RegExp]> = [
      ['a Redis port out of range', ['status'], { ROTATION_RELAY_REDIS_URL: 'redis://127.0.0.1:99999' }, /^rotation-relay status: configuration: ROTATION_RELAY_REDIS_URL: expected .*\(its port must be from 1 to 65535\)$/],
      [
        'a missing TLS CA file',
        ['listen'],
        { ROTATION_RELAY_REDIS_URL: 'rediss://127.0.0.1:6380', ROTATION_RELAY_REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' },
        /^rotation-relay listen: configuration: ROTATION_RELAY_REDIS_TLS_CA_FILE: expected a readable PEM file .*\(cannot read \/nonexistent\/ca\.pem: ENOENT\)$/,
      ],
      ['an empty Redis URL', ['status'], { ROTATION_RELAY_REDIS_URL: '' }, /^rotation-relay status: configuration: ROTATION_RELAY_REDIS_URL: expected .*\(it is set but empty; unset it to use the default, redis:\/\/127\.0\.0\.1:6379\)$/],
      ['empty signing keys', ['listen'], { ROTATION_RELAY_SIGNING_KEYS: ' ' }, /^rotation-relay listen: configuration: ROTATION_RELAY_SIGNING_KEYS: expected .*\(it is set but empty; unset it instead\)$/],
      [
        'publish without signing keys (required, as for the worker)',
        ['publish', 'app/db'],
        { AWS_REGION: 'eu-west-1' },
        /^rotation-relay publish: configuration: ROTATION_RELAY_SIGNING_KEYS: expected .*openssl rand -base64 48.*set ROTATION_RELAY_ALLOW_UNSIGNED=true\)$/,
      ],
      [
        'an AWS endpoint port out of range',
        ['publish', 'app/db'],
        { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:99999' },
        /^rotation-relay publish: configuration: AWS_ENDPOINT_URL: expected .*\(its port must be from 1 to 65535\)$/,
      ],
    ];

    it.each(CASES)('%s', async (_label, argv, env, line) => {
      // Prepare
      const io = cliIoDouble({ env });

      // Act
      const code = await runCli(argv, io);

      // Assess
      expect(code).toBe(2);
      expect(io.outLines).toEqual([]);
      expect(io.errText()).toHaveLength(1);
      expect(io.errText()[0]).toMatch(line);
    });
  });

  describe('publish', () => {
    it('exits 2 when no secret is given', async () => {
      // Prepare
      const io = cliIoDouble();

      // Act
      const code = await runCli(['publish'], io);

      // Assess
      expect(code).toBe(2);
      expect(io.errText()[0]).toContain('exactly one SECRET');
    });
  });
});
