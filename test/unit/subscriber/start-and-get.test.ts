import { afterEach, describe, expect, it } from 'vitest';
import { RotationRelayError } from '../../../src/common/errors.js';
import {
  CacheNotStartedError,
  CacheStoppedError,
  CredentialCacheConfigError,
  SecretUnavailableAtStartError,
  UnknownSecretError,
} from '../../../src/sdk/cache/errors.js';
import { createCredentialCache, type CredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import { notFound } from '../../support/secrets-manager-client-double.js';
import { harness, leaks } from '../../support/cache-harness.js';

describe('CredentialCache start() and get()', () => {
  const caches: CredentialCache[] = [];
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.stop()));
  });

  it('loads every secret once with VersionStage AWSCURRENT, then get() is synchronous and parsed', async () => {
    const h = harness({ secrets: { db: { secretId: 'app/db', json: true }, token: { secretId: 'app/token' } } }, (sm) => sm.create('app/token', 'plain-token-value'));
    caches.push(h.cache);

    await h.cache.start();

    expect(h.sm.calls).toEqual(
      expect.arrayContaining([
        { SecretId: 'app/db', VersionStage: 'AWSCURRENT' },
        { SecretId: 'app/token', VersionStage: 'AWSCURRENT' },
      ]),
    );
    expect(h.reads()).toBe(2);
    expect(h.cache.get<{ username: string }>('db').username).toBe('app');
    expect(h.cache.get('token')).toBe('plain-token-value');
    expect(h.cache.current('db')).toMatchObject({ versionId: h.sm.currentVersion('app/db'), secretArn: h.sm.arn('app/db') });
    expect(h.cache.status().secrets['db']).toMatchObject({ source: 'secrets-manager', secretArn: h.sm.arn('app/db'), refreshes: 1, failures: 0 });
  });

  it('get() before start and for an unknown name throw typed errors naming the secret', async () => {
    const h = harness();
    caches.push(h.cache);
    expect(() => h.cache.get('db')).toThrow(CacheNotStartedError);
    await h.cache.start();
    const error = (() => {
      try {
        h.cache.get('nope');
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UnknownSecretError);
    expect(error).toBeInstanceOf(RotationRelayError);
    expect((error as UnknownSecretError).code).toBe('UNKNOWN_SECRET');
    expect((error as Error).message).toContain('"nope"');
    expect((error as Error).message).toContain('db');
  });

  it('start() fails with SECRET_UNAVAILABLE_AT_START naming the logical name and secretId, and stops', async () => {
    const h = harness({ secrets: { db: { secretId: 'app/db', json: true }, missing: { secretId: 'app/missing' } } });
    caches.push(h.cache);

    const error = await h.cache.start().then(
      () => undefined,
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(SecretUnavailableAtStartError);
    expect((error as SecretUnavailableAtStartError).code).toBe('SECRET_UNAVAILABLE_AT_START');
    expect((error as Error).message).toMatch(/"missing" \(secretId app\/missing\).*not found/);
    expect((error as SecretUnavailableAtStartError).names).toEqual(['missing']);
    expect(h.cache.status().running).toBe(false);
    await expect(h.cache.start()).rejects.toBeInstanceOf(CacheStoppedError);
  });

  it('does not fall back to the environment when the secret is not found (only when unreachable)', async () => {
    const h = harness({ secrets: { db: { secretId: 'app/db', json: true, envFallback: 'DB_SECRET' } }, env: { DB_SECRET: '{"password":"from-env"}' } });
    caches.push(h.cache);
    h.sm.failWith(() => notFound());
    await expect(h.cache.start()).rejects.toThrow(/"db" \(secretId app\/db\): secret app\/db was not found/);
  });

  it('a JSON parse failure is an error naming the secret that never echoes the value', async () => {
    const value = 'not-json-but-a-password-s3cr3t';
    const h = harness({ secrets: { bad: { secretId: 'app/bad', json: true } } }, (sm) => sm.create('app/bad', value));
    caches.push(h.cache);
    const error = await h.cache.start().then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    expect(error?.message).toContain('"bad"');
    expect(error?.message).toContain('not valid JSON');
    expect(error?.message).not.toContain(value);
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain(value);
    expect(String((error?.cause as Error | undefined)?.message)).not.toContain(value);
    expect(leaks(h.logs.lines().join('\n'), [value])).toEqual([]);
  });

  it('refuses options that cannot work, naming the option', () => {
    const sm = harness().sm;
    expect(() => createCredentialCache({ secrets: {}, secretsClient: sm.client })).toThrow(CredentialCacheConfigError);
    expect(() =>
      createCredentialCache({
        secrets: { db: { secretId: 'app/db' } },
        secretsClient: sm.client,
        redis: { url: 'redis://127.0.0.1:1', cluster: false, keyPrefix: 'rotation-relay', passwordSecret: 'redis' },
      }),
    ).toThrow(/redis.passwordSecret "redis"/);
    expect(() => createCredentialCache({ secrets: { db: { secretId: 'app/db' } }, secretsClient: sm.client, pollIntervalMs: 0 })).toThrow(/pollIntervalMs/);
    expect(() => createCredentialCache({ secrets: { db: { secretId: 'app/db' } }, secretsClient: sm.client, backoff: { minMs: 10, maxMs: 5 } })).toThrow(/backoff.maxMs/);
    expect(() => createCredentialCache({ secrets: { db: { secretId: 'app/db', envFallback: { password: 'X' } } }, secretsClient: sm.client })).toThrow(
      /envFallback is a field map, which needs json: true/,
    );
  });

  it('stop() is idempotent and start() is shared by concurrent callers', async () => {
    const h = harness();
    await Promise.all([h.cache.start(), h.cache.start()]);
    expect(h.reads()).toBe(1);
    expect(h.cache.status().running).toBe(true);
    await Promise.all([h.cache.stop(), h.cache.stop()]);
    await h.cache.stop();
    expect(h.cache.status().running).toBe(false);
    expect(h.cache.status().nextPollInMs).toBeUndefined();
  });
});
