/**
 * The one app instance of the `hostile` scenario, as its own process so that its resident memory
 * is its own: a CredentialCache subscribed to the bus, holding one secret, configured by
 * HOSTILE_APP_CONFIG (JSON). Run with --expose-gc: the memory baseline is taken after a full GC.
 *
 * Prints JSON lines: `ready`, `rotated` (with the time, this host's clock), and answers commands
 * on stdin: `{"cmd":"mark"}` → `marked` (GC, then the RSS baseline; the peak restarts from it),
 * `{"cmd":"sample"}` → `sample` (RSS baseline and peak since the mark, the cache's counters),
 * `{"cmd":"stop"}` → `stopped`, then exits. Never prints a secret value.
 */
import { createInterface } from 'node:readline';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createCredentialCache } from '../../src/entry/index.js';
import { createLogger } from '../../src/common/logger.js';

export interface HostileAppConfig {
  aws: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  redisUrl: string;
  secretId: string;
  /** Empty: the unsigned opt-in (the forged flood's target). */
  signingKeys: string[];
}

const config = JSON.parse(process.env.HOSTILE_APP_CONFIG ?? '{}') as HostileAppConfig;
const print = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

const unsigned = config.signingKeys.length === 0;
const cache = createCredentialCache({
  secrets: { db: { secretId: config.secretId, json: true } },
  redis: { url: config.redisUrl, cluster: false, keyPrefix: 'rotation-relay' },
  signingKeys: config.signingKeys,
  ...(unsigned ? { allowUnsigned: true } : {}),
  secretsClient: new SecretsManagerClient({ endpoint: config.aws.endpoint, region: config.aws.region, credentials: config.aws.credentials }),
  // Rejections are summarised by the SDK itself; warn keeps this process's output to what matters.
  logger: createLogger({ level: 'error', base: { component: 'hostile-app' }, destination: process.stderr }),
});
cache.on('rotated', ({ versionId, trigger }) => print({ type: 'rotated', versionId, trigger, at: Date.now() }));

// RSS is sampled every 10 ms: the peak of a flood lasts as long as its backlog.
let baseline = process.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 10);

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run hostile-app with --expose-gc: the memory baseline is taken after a full GC');
  collect();
}

await cache.start();
const held = cache.current('db').versionId;
print({ type: 'ready', versionId: held });

for await (const line of createInterface({ input: process.stdin })) {
  const { cmd } = JSON.parse(line) as { cmd: string };
  if (cmd === 'mark') {
    gc();
    baseline = process.memoryUsage().rss;
    peak = baseline;
    print({ type: 'marked', rss: baseline });
  } else if (cmd === 'sample') {
    const status = cache.status();
    print({ type: 'sample', baselineRss: baseline, peakRss: Math.max(peak, process.memoryUsage().rss), counts: status.counts, versionId: cache.current('db').versionId });
  } else if (cmd === 'stop') {
    clearInterval(sampler);
    await cache.stop();
    print({ type: 'stopped' });
    break;
  }
}
process.exit(0);
