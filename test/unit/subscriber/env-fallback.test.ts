import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RotatedEvent } from '../../../src/sdk/cache/types.js';
import { ENV_FALLBACK_VERSION_ID, readEnvFallback } from '../../../src/sdk/cache/env-fallback.js';
import { EnvFallbackError, SecretUnavailableAtStartError } from '../../../src/sdk/cache/errors.js';
import { networkError, serverError } from '../../support/secrets-manager-client-double.js';
import { harness, leaks } from '../../support/cache-harness.js';

const ENV_VALUE = JSON.stringify({ username: 'env-user', password: 'env-password-0123456789' });

describe('env fallback at cold start', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it.each([
    ['a network error', networkError],
    ['a 5xx', serverError],
  ])('with Secrets Manager unreachable (%s) start() uses the env value, says so, and switches once SM answers', async (_label, failure) => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const h = harness({
      secrets: { db: { secretId: 'app/db', json: true, envFallback: 'DB_SECRET' } },
      env: { DB_SECRET: ENV_VALUE },
      backoff: { minMs: 1_000, maxMs: 60_000 },
    });
    const rotated: RotatedEvent[] = [];
    h.cache.on('rotated', (event) => rotated.push(event));
    h.sm.failWith(() => failure());

    await h.cache.start();

    expect(h.cache.get('db')).toEqual(JSON.parse(ENV_VALUE));
    expect(h.cache.current('db').versionId).toBe(ENV_FALLBACK_VERSION_ID);
    const status = h.cache.status();
    expect(status.secrets['db']).toMatchObject({ source: 'env-fallback', versionId: ENV_FALLBACK_VERSION_ID, failures: 1, nextRetryInMs: 1_000 });
    expect(status.secrets['db']?.lastError?.code).toBe('SECRETS_MANAGER_UNAVAILABLE');
    const warn = h.logs.records().find((record) => record['level'] === 'warn' && record['source'] === 'env-fallback');
    expect(String(warn?.['msg'])).toMatch(/Secrets Manager unreachable at start.*env fallback/);

    // Still unreachable: keeps the env value and keeps retrying in the background.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(h.cache.status().secrets['db']?.source).toBe('env-fallback');
    expect(h.cache.status().secrets['db']?.nextRetryInMs).toBe(1_000);

    h.sm.failWith(undefined);
    await vi.advanceTimersByTimeAsync(1_000);

    expect(h.cache.status().secrets['db']).toMatchObject({ source: 'secrets-manager', versionId: h.sm.currentVersion('app/db') });
    expect(h.cache.get('db')).toEqual(JSON.parse(h.sm.values[0] ?? ''));
    expect(rotated).toEqual([expect.objectContaining({ name: 'db', previousVersionId: ENV_FALLBACK_VERSION_ID, trigger: 'retry' })]);
    expect(h.cache.status().secrets['db']?.nextRetryInMs).toBeUndefined();
    expect(leaks(h.logs.lines().join('\n') + JSON.stringify(h.cache.status()), [ENV_VALUE, ...h.sm.values])).toEqual([]);
    await h.cache.stop();
  });

  it('builds a JSON secret field by field from a map of variables', async () => {
    const h = harness({
      secrets: { db: { secretId: 'app/db', json: true, envFallback: { username: 'DB_USER', password: 'DB_PASSWORD' } } },
      env: { DB_USER: 'u', DB_PASSWORD: 'p-env-secret' },
    });
    h.sm.failWith(() => networkError());
    await h.cache.start();
    expect(h.cache.get('db')).toEqual({ username: 'u', password: 'p-env-secret' });
    await h.cache.stop();
  });

  it('a missing variable fails start() with an error naming it (and no value)', async () => {
    const h = harness({
      secrets: { db: { secretId: 'app/db', json: true, envFallback: { username: 'DB_USER', password: 'DB_PASSWORD' } } },
      env: { DB_USER: 'u' },
    });
    h.sm.failWith(() => networkError());
    const error = await h.cache.start().then(
      () => undefined,
      (caught: unknown) => caught as SecretUnavailableAtStartError,
    );
    expect(error).toBeInstanceOf(SecretUnavailableAtStartError);
    expect(error?.message).toContain('DB_PASSWORD');
    expect(error?.message).toContain('"db"');
    expect(error?.message).not.toContain('DB_USER,');
  });

  it('without envFallback an unreachable Secrets Manager fails start()', async () => {
    const h = harness();
    h.sm.failWith(() => networkError());
    await expect(h.cache.start()).rejects.toThrow(/could not load "db" \(secretId app\/db\): GetSecretValue for secret app\/db failed/);
  });
});

describe('readEnvFallback', () => {
  it('parses a JSON string variable for json secrets and names a variable that is not JSON', () => {
    expect(readEnvFallback('db', { secretId: 'x', json: true, envFallback: 'V' }, { V: '{"a":1}' })).toEqual({ a: 1 });
    expect(readEnvFallback('t', { secretId: 'x', envFallback: 'V' }, { V: 'plain' })).toBe('plain');
    const error = (() => {
      try {
        readEnvFallback('db', { secretId: 'x', json: true, envFallback: 'V' }, { V: 'secret-not-json' });
      } catch (caught) {
        return caught as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(EnvFallbackError);
    expect(error?.message).toContain('V is not valid JSON');
    expect(error?.message).not.toContain('secret-not-json');
  });
});
