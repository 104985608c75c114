/**
 * `npm run local`: the worker on this machine against real local services — a private
 * redis-server, moto_server for Secrets Manager and an in-process SQS (fauxqs) — with a secret
 * rotated every few seconds the way a rotation Lambda does, and a verifying subscriber printing
 * what it receives. Ctrl-C (or `--rotations N`) stops everything it started.
 */
import { parseArgs } from 'node:util';
import { RelayFixture } from '../test/support/relay-fixture.js';
import { rotationEvents } from '../test/support/rotation-events.js';
import { waitUntil } from '../test/support/wait-until.js';

const { values } = parseArgs({
  options: {
    rotations: { type: 'string' },
    'interval-ms': { type: 'string', default: '3000' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(`Usage: npm run local -- [--rotations N] [--interval-ms MS]

Runs the rotation-relay worker on local services (redis-server and moto_server must be on PATH)
and rotates one secret every MS milliseconds (default 3000), printing each verified
invalidation with its latency from the rotation's last event. Stops on Ctrl-C, or after N rotations.`);
  process.exit(0);
}
const rotations = values.rotations === undefined ? Infinity : Number(values.rotations);
const intervalMs = Number(values['interval-ms']);

const log = (line: string) => process.stdout.write(`${line}\n`);
log('starting redis-server, moto_server and an in-process SQS on loopback…');
const fixture = await RelayFixture.start();
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await fixture.stop();
  process.exit(code);
};
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  const { worker } = await fixture.startWorker({ ROTATION_RELAY_LOG_LEVEL: 'warn', ROTATION_RELAY_METRICS: 'false' });
  const received = await fixture.listen();
  const secret = await fixture.createSecret('demo/db');
  log(`worker ready (health on 127.0.0.1:${worker.status.healthPort}); secret ${secret.name}; queue ${fixture.queue.queueUrl}`);
  log(`redis ${fixture.redis.url}, moto_server ${fixture.moto.endpoint}`);
  for (let n = 1; n <= rotations && !stopping; n += 1) {
    const oldVersion = secret.versionId;
    const newVersion = await fixture.secrets.rotate(secret);
    const sentAt = Date.now();
    for (const event of rotationEvents(secret.arn, newVersion, oldVersion)) await fixture.send(event);
    await waitUntil(() => received.some((i) => i.versionId === newVersion), { message: `rotation ${n} to propagate`, timeoutMs: 15_000 });
    const invalidation = received.find((i) => i.versionId === newVersion);
    log(
      `rotation ${n}: ${secret.name} → version ${newVersion.slice(0, 8)}… invalidation ${invalidation?.sig ? 'signed and verified' : 'unsigned'}, ` +
        `${Date.now() - sentAt} ms after the events were enqueued (4 events, 1 broadcast so far: ${received.filter((i) => i.versionId === newVersion).length})`,
    );
    if (n < rotations) await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  await stop(0);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  await stop(1);
}
