import { parseArgs } from 'node:util';
import { loadWorkerConfig } from '../../config/index.js';
import { RelayWorker } from '../../worker/relay-worker.js';
import { EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';

export const workerHelp = `Usage: rotation-relay worker

Run the relay: consume the SQS queue fed by the EventBridge rule, confirm each change with
DescribeSecret, and publish one signed invalidation per change on Redis. Serves /healthz and
/readyz. SIGTERM or SIGINT: stop receiving, finish in-flight messages, close, exit 0.

Configuration comes from environment variables (see the README's configuration table);
ROTATION_RELAY_QUEUE_URL and an AWS region are required.`;

export async function worker(argv: string[], io: CliIo): Promise<number> {
  parseArgs({ args: argv, options: {} });
  const config = loadWorkerConfig(io.env);
  const relay = new RelayWorker(config);
  const signal = io.untilSignal();
  await relay.start();
  const received = await signal;
  relay.logger.info({ signal: received }, 'shutting down');
  await relay.stop();
  return EXIT.ok;
}
