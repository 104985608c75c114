import { SecretsManagerClient, type GetSecretValueCommandInput } from '@aws-sdk/client-secrets-manager';
import { createCredentialCache, type CredentialCache } from '../../src/sdk/cache/credential-cache.js';
import type { CredentialCacheOptions, RotatedEvent } from '../../src/sdk/cache/types.js';
import { captureLogger, type CapturedLogger } from './log-capture.js';
import type { RelayFixture } from './relay-fixture.js';

/** A Secrets Manager client that records every GetSecretValue it sends (inputs only). */
export interface CountingClient {
  client: SecretsManagerClient;
  reads: GetSecretValueCommandInput[];
}

export function countingClient(config: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } }, maxAttempts?: number): CountingClient {
  const client = new SecretsManagerClient({ ...config, ...(maxAttempts !== undefined ? { maxAttempts } : {}) });
  const reads: GetSecretValueCommandInput[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      // 'initialize' runs once per command (before retries): one entry per GetSecretValue call.
      if (context.commandName === 'GetSecretValueCommand') reads.push({ ...(args.input as GetSecretValueCommandInput) });
      return next(args);
    },
    { step: 'initialize', name: 'countGetSecretValue' },
  );
  return { client, reads };
}

/** One app instance: a cache with its own counting client, captured log and rotation record. */
export interface Instance {
  cache: CredentialCache;
  counting: CountingClient;
  logs: CapturedLogger;
  rotations: Array<RotatedEvent & { at: number }>;
}

/** A cache subscribed to the fixture's Redis, verifying the fixture's signing keys. */
export function instance(fixture: RelayFixture, options: Partial<CredentialCacheOptions> & Pick<CredentialCacheOptions, 'secrets'>, redisUrl = fixture.redis.url): Instance {
  const counting = countingClient({ endpoint: fixture.moto.endpoint, region: fixture.moto.region, credentials: { ...fixture.moto.credentials } });
  const logs = captureLogger({ component: 'cache' });
  const cache = createCredentialCache({
    redis: { url: redisUrl, cluster: false, keyPrefix: 'rotation-relay' },
    signingKeys: fixture.signingKeys,
    secretsClient: counting.client,
    logger: logs.logger,
    ...options,
  });
  const rotations: Instance['rotations'] = [];
  cache.on('rotated', (event) => rotations.push({ ...event, at: Date.now() }));
  return { cache, counting, logs, rotations };
}

/** Values (and passwords inside JSON values) found in `text`: must be empty. */
export function leakedValues(text: string, values: readonly string[]): string[] {
  const needles = values.flatMap((value) => {
    try {
      const parsed = JSON.parse(value) as { password?: unknown };
      return typeof parsed.password === 'string' ? [value, parsed.password] : [value];
    } catch {
      return [value];
    }
  });
  return needles.filter((needle) => text.includes(needle));
}
