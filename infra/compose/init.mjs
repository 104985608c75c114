/* global process, console */
// The docker-compose `init` step: the queue, its DLQs and the EventBridge rule through
// `rotation-relay infra apply` (the same code path as on AWS), the demo secrets, then
// `rotation-relay infra verify` to prove the rule routes the sample events. Idempotent: run it
// again and nothing changes. It prints resource names, never secret values.
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { processIo } from '../../dist/ops/cli/io.js';
import { runCli } from '../../dist/ops/cli/run.js';

const stack = process.env.DEMO_STACK_NAME || 'rotation-relay';
const prefix = process.env.DEMO_SECRET_PREFIX || 'rotation-relay/demo/';
const io = processIo();

const DEMO_SECRETS = {
  postgres: {
    engine: 'postgres',
    host: 'postgres',
    port: 5432,
    dbname: process.env.DEMO_DB_NAME || 'app',
    username: process.env.DEMO_DB_USER || 'app',
    password: process.env.DEMO_DB_PASSWORD || '',
  },
  redis: { host: 'valkey', port: 6379 },
  smtp: { host: 'mailpit', port: 1025, username: 'app', password: process.env.DEMO_SMTP_PASSWORD || '' },
};

async function run(...argv) {
  const code = await runCli(argv, io);
  if (code !== 0) {
    console.error(`init: rotation-relay ${argv.join(' ')} exited ${code}`);
    process.exit(code);
  }
}

await run('infra', 'apply', '--name', stack, '--secret-prefix', prefix);

const secretsManager = new SecretsManagerClient({ region: process.env.AWS_REGION });
for (const [key, value] of Object.entries(DEMO_SECRETS)) {
  const name = `${prefix}${key}`;
  try {
    const created = await secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }));
    console.log(`init: created secret ${created.ARN}`);
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceExistsException') console.log(`init: secret ${name} exists`);
    else throw error;
  }
}
secretsManager.destroy();

await run('infra', 'verify', '--name', stack, '--secret-prefix', prefix);
