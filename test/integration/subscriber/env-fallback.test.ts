import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialCache, type CredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import { ENV_FALLBACK_VERSION_ID } from '../../../src/sdk/cache/env-fallback.js';
import type { RotatedEvent } from '../../../src/sdk/cache/types.js';
import { startAwsProxyDouble, type AwsProxyDouble } from '../../support/aws-proxy-double.js';
import { freePort } from '../../support/free-port.js';
import { captureLogger, type CapturedLogger } from '../../support/log-capture.js';
import { MotoSecrets, randomSecretValue, type TestSecret } from '../../support/moto-secrets.js';
import { startMoto, type MotoHandle } from '../../support/moto-server.js';
import { waitUntil } from '../../support/wait-until.js';
import { countingClient, leakedValues } from '../../support/subscribed-cache.js';

/** Cold start while Secrets Manager (moto_server behind a fault proxy, or nothing at all) is unreachable. */
describe('CredentialCache env fallback at cold start (moto_server)', () => {
  let moto: MotoHandle;
  let secrets: MotoSecrets;
  let proxy: AwsProxyDouble;
  let secret: TestSecret;
  const envValue = randomSecretValue();
  const caches: CredentialCache[] = [];
  const logs: CapturedLogger[] = [];

  beforeAll(async () => {
    moto = await startMoto();
    secrets = new MotoSecrets(moto);
    secret = await secrets.create(`app/db-${Date.now()}`);
    proxy = await startAwsProxyDouble(moto.endpoint);
  });

  afterAll(async () => {
    await Promise.allSettled(caches.map((cache) => cache.stop()));
    secrets?.client.destroy();
    await proxy?.stop();
    await moto?.stop();
  });

  const cacheAt = (endpoint: string) => {
    const log = captureLogger({ component: 'cache' });
    logs.push(log);
    // One attempt per call: the cache's own backoff is what is under test, not the SDK's retries.
    const counting = countingClient({ endpoint, region: moto.region, credentials: { ...moto.credentials } }, 1);
    const cache = createCredentialCache({
      secrets: { db: { secretId: secret.name, json: true, envFallback: 'APP_DB_SECRET' } },
      env: { APP_DB_SECRET: envValue },
      secretsClient: counting.client,
      backoff: { minMs: 100, maxMs: 400 },
      logger: log.logger,
    });
    caches.push(cache);
    return { cache, log, counting };
  };

  it('Secrets Manager answering 503: start() succeeds on the env value, then switches once it answers', async () => {
    proxy.setFault(() => ({ status: 503, errorType: 'ServiceUnavailable' }));
    const { cache, log } = cacheAt(proxy.endpoint);
    const rotated: RotatedEvent[] = [];
    cache.on('rotated', (event) => rotated.push(event));

    await cache.start();

    expect(cache.get('db')).toEqual(JSON.parse(envValue));
    expect(cache.status().secrets['db']).toMatchObject({ source: 'env-fallback', versionId: ENV_FALLBACK_VERSION_ID, lastError: { code: 'SECRETS_MANAGER_UNAVAILABLE' } });
    expect(log.records().some((record) => record['level'] === 'warn' && record['source'] === 'env-fallback')).toBe(true);
    // Retrying in the background, with backoff, while unreachable.
    await waitUntil(() => (cache.status().secrets['db']?.failures ?? 0) >= 3, { message: 'background retries' });
    expect(cache.status().secrets['db']?.source).toBe('env-fallback');

    proxy.setFault(() => undefined);

    await waitUntil(() => cache.status().secrets['db']?.source === 'secrets-manager', { message: 'the switch to Secrets Manager', timeoutMs: 5_000 });
    expect(cache.current('db').versionId).toBe(secret.versionId);
    expect(cache.get('db')).toEqual(JSON.parse(secret.values[0] ?? '{}'));
    expect(rotated).toEqual([expect.objectContaining({ name: 'db', versionId: secret.versionId, previousVersionId: ENV_FALLBACK_VERSION_ID, trigger: 'retry' })]);
    expect(cache.status().secrets['db']?.nextRetryInMs).toBeUndefined();
  });

  it('nothing listening on the endpoint (a closed port): start() succeeds on the env value', async () => {
    const { cache } = cacheAt(`http://127.0.0.1:${await freePort()}`);
    await cache.start();
    expect(cache.status().secrets['db']).toMatchObject({ source: 'env-fallback', lastError: { code: 'SECRETS_MANAGER_UNAVAILABLE' } });
    expect(cache.get('db')).toEqual(JSON.parse(envValue));
  });

  it('no status() and no log line of these tests holds a secret value', () => {
    const text = [...caches.map((cache) => JSON.stringify(cache.status())), ...logs.flatMap((log) => log.lines())].join('\n');
    expect(leakedValues(text, [envValue, ...secret.values])).toEqual([]);
  });
});
