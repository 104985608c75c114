/**
 * One app instance as its own process, reduced to what fleet convergence is about: a
 * CredentialCache (public API only) subscribed to invalidations, heartbeating its presence.
 * Configured by CACHE_INSTANCE_CONFIG (JSON); prints JSON lines: `ready` (with the presence
 * instance id), `rotated` for every new version, and `stopped` after SIGTERM (a clean stop
 * deregisters). SIGKILL models a crash: the presence entry is left to expire.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createCredentialCache, type PresenceOptions } from '../../../src/entry/index.js';

export interface CacheInstanceConfig {
  aws: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  redisUrl: string;
  signingKeys: string[];
  /** Logical name → secret name or ARN. */
  secrets: Record<string, string>;
  presence?: PresenceOptions;
}

const config = JSON.parse(process.env.CACHE_INSTANCE_CONFIG ?? '{}') as CacheInstanceConfig;
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const cache = createCredentialCache({
  secrets: Object.fromEntries(Object.entries(config.secrets).map(([name, secretId]) => [name, { secretId, json: true }])),
  redis: { url: config.redisUrl, cluster: false, keyPrefix: 'rotation-relay' },
  signingKeys: config.signingKeys,
  secretsClient: new SecretsManagerClient(config.aws),
  ...(config.presence ? { presence: config.presence } : {}),
});
cache.on('rotated', ({ name, versionId, trigger }) => print({ type: 'rotated', name, versionId, trigger, at: Date.now() }));
await cache.start();
const status = cache.status();
print({ type: 'ready', instanceId: status.presence?.instanceId, pid: process.pid, versions: Object.fromEntries(Object.entries(status.secrets).map(([n, s]) => [n, s.versionId])) });

// A failed stop must end the process loudly, not as an unhandled rejection of a signal listener.
process.once('SIGTERM', () => {
  cache.stop().then(
    () => {
      print({ type: 'stopped' });
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`stop failed: ${error instanceof Error ? error.name : 'unknown error'}\n`);
      process.exit(1);
    },
  );
});
