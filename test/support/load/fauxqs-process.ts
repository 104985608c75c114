/**
 * fauxqs in a process of its own, for load.test.ts: at 1,000 events/s the queue answers about
 * 2,000 requests a second, and inside the test process it would share one event loop with the load
 * generator, so the worker would be measured against a queue slowed by the test itself.
 * Prints one JSON line `{"type":"listening","endpoint":…,"queueUrl":…}` and serves until SIGTERM.
 */
import { startFauxqs } from '../fauxqs.js';

const fauxqs = await startFauxqs();
const queue = await fauxqs.createQueue(process.env.QUEUE_NAME ?? 'load', { dlq: { maxReceiveCount: 5 }, visibilityTimeoutSeconds: 30 });
process.stdout.write(`${JSON.stringify({ type: 'listening', endpoint: fauxqs.endpoint, ...queue })}\n`);
process.once('SIGTERM', () => {
  void fauxqs.stop().then(() => process.exit(0));
});
