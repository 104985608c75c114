import { describe, expect, it } from 'vitest';
import { CLI_AWS_CALL_BOUND_MS, CLI_AWS_HELP, CLI_AWS_LIMITS, cliSecretsClient, cliSqsClient } from '../../../src/ops/cli/aws-clients.js';
import { cliIoDouble } from '../../support/cli-io-double.js';
import { runCli } from '../../../src/ops/cli/run.js';
import { createSecretsClient } from '../../../src/secrets/client.js';

const AWS = { region: 'us-east-1', customSqsEndpoint: true };

/** The handler's options as the SDK resolved them (the handler is built lazily, on first use). */
async function handlerConfig(client: { config: { requestHandler: unknown } }): Promise<Record<string, unknown>> {
  const handler = client.config.requestHandler as { configProvider?: Promise<Record<string, unknown>>; config?: Record<string, unknown> };
  return (await handler.configProvider) ?? handler.config ?? {};
}

function helpOf(command: string): Promise<string> {
  const io = cliIoDouble();
  return runCli([command, '--help'], io).then(() => io.outLines.join('\n'));
}

describe('the CLI AWS clients: every call bounded', () => {
  it('give Secrets Manager and SQS calls a connection and a request timeout that throws, and two attempts', async () => {
    // Prepare
    const secrets = cliSecretsClient(AWS);
    const sqs = cliSqsClient(AWS);
    try {
      // Act
      const configs = await Promise.all([handlerConfig(secrets), handlerConfig(sqs)]);
      const attempts = await Promise.all([secrets.config.maxAttempts(), sqs.config.maxAttempts()]);

      // Assess
      for (const config of configs) {
        expect(config).toMatchObject({ connectionTimeout: CLI_AWS_LIMITS.connectionTimeoutMs, requestTimeout: CLI_AWS_LIMITS.requestTimeoutMs, throwOnRequestTimeout: true });
      }
      expect(attempts).toEqual([CLI_AWS_LIMITS.maxAttempts, CLI_AWS_LIMITS.maxAttempts]);
      expect(CLI_AWS_CALL_BOUND_MS).toBe(10_000);
    } finally {
      secrets.destroy();
      sqs.destroy();
    }
  });

  it('leave the shared factory\'s defaults alone: without options no request timeout is set', async () => {
    // Prepare
    const client = createSecretsClient(AWS);
    try {
      // Act
      const config = await handlerConfig(client);

      // Assess
      expect(config['requestTimeout']).toBeUndefined();
      expect(config['throwOnRequestTimeout']).toBeUndefined();
      expect(await client.config.maxAttempts()).toBe(3);
    } finally {
      client.destroy();
    }
  });

  it.each(['status', 'publish', 'wait-converged', 'drill'])('documents the bound in "%s --help"', async (command) => {
    // Act
    const help = await helpOf(command);

    // Assess
    expect(help).toContain(CLI_AWS_HELP);
    expect(CLI_AWS_HELP).toMatch(/3 s without a connection or 5 s without a whole answer[\s\S]*at most 2 times[\s\S]*within about 10 s/);
  });

  it('says in "drill --help" that a set but empty ROTATION_RELAY_QUEUE_URL is a configuration error', async () => {
    expect((await helpOf('drill')).replace(/\s+/g, ' ')).toContain('set but empty is a configuration error (exit 2)');
  });
});
