import { parseArgs } from 'node:util';
import { loadWorkerConfig } from '../../../config/index.js';
import { RelayWorker } from '../../../relay/worker/index.js';
import { EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';

export const workerHelp = `Usage: rotation-relay worker

Run the relay: consume the SQS queue fed by the EventBridge rule, confirm each change with
DescribeSecret, and publish one signed invalidation per change on Redis. Serves /healthz and
/readyz. SIGTERM or SIGINT: stop receiving, finish in-flight messages, close, exit 0.

Configuration comes from environment variables (see the README's configuration table);
ROTATION_RELAY_QUEUE_URL and an AWS region are required, and so is signing:
ROTATION_RELAY_SIGNING_KEYS (generate a key with \`openssl rand -base64 48\`; the same keys on
every subscriber). Without keys the worker refuses to start (exit 2) unless
ROTATION_RELAY_ALLOW_UNSIGNED=true asks for unsigned mode, which it then warns about at start:
anyone who can publish on the Redis channel can make every instance re-read its secrets.`;

export async function worker(argv: string[], io: CliIo): Promise<number> {
  parseArgs({ args: argv, options: {} });
  const config = loadWorkerConfig(io.env);
  const relay = new RelayWorker(config);
  // Listen for the signal before starting: a SIGTERM while start-up waits for Redis must stop
  // the worker, not be swallowed until start-up completes.
  const stopped = io.untilSignal().then(async (signal) => {
    relay.logger.info({ signal }, 'shutting down');
    await relay.stop();
  });
  await relay.start();
  await stopped;
  return EXIT.ok;
}
