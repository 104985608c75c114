/**
 * The worker's floor as its own process (bench/worker.ts): bare sqs-consumer loops with the
 * worker's receive settings whose handler does only what the worker cannot avoid for a message:
 * read the secret named in the body with one DescribeSecret, then acknowledge (delete) it. No
 * validation, no Redis, no dedupe, no metrics, no health server.
 *
 * Run as compiled JavaScript under plain node (bench/worker.ts transpiles it), as the worker is:
 *   node bare-consumer-process.js '<BareConsumerSettings as JSON>'
 * Endpoints, region and credentials come from the environment, as for the worker
 * (AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_REGION, AWS_ACCESS_KEY_ID…).
 * Writes JSON lines on stdout: `{"type":"ready"}` once every loop is polling, and on SIGTERM
 * `{"type":"stopped","acked":n,"failed":n}` before exiting.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createBareConsumers, secretIdOf, stopBareConsumers, type BareConsumerSettings } from './bare-consumer.js';

const settings = JSON.parse(process.argv[2] ?? '{}') as BareConsumerSettings;
const region = process.env.AWS_REGION;
// The clients the worker builds for itself (relay-worker.ts, createSecretsClient): same options.
const sqs = new SQSClient({ region, useQueueUrlAsEndpoint: false, cacheMiddleware: true });
const secrets = new SecretsManagerClient({ region, maxAttempts: 3, cacheMiddleware: true });
const counts = { acked: 0, failed: 0 };
let stopping = false;

const consumers = createBareConsumers(
  settings,
  sqs,
  async (messages) => {
    // The messages of a batch concurrently, as the worker handles them.
    const reads = await Promise.allSettled(messages.map((message) => secrets.send(new DescribeSecretCommand({ SecretId: secretIdOf(message.Body ?? '') }))));
    const acked = messages.filter((_, i) => reads[i]?.status === 'fulfilled');
    counts.acked += acked.length;
    counts.failed += messages.length - acked.length;
    for (const read of reads) if (read.status === 'rejected') process.stderr.write(`DescribeSecret failed: ${String(read.reason)}\n`);
    return acked;
  },
  (error) => {
    // Stopping aborts the idle long polls: not an error.
    if (!stopping) process.stderr.write(`sqs-consumer: ${error.message}\n`);
  },
);
for (const consumer of consumers) consumer.start();
process.stdout.write(`${JSON.stringify({ type: 'ready', consumers: consumers.filter((c) => c.status.isRunning).length })}\n`);

process.once('SIGTERM', () => {
  stopping = true;
  void stopBareConsumers(consumers).finally(() => {
    process.stdout.write(`${JSON.stringify({ type: 'stopped', ...counts })}\n`, () => process.exit(0));
  });
});
