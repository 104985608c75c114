import { afterEach, describe, expect, it, vi } from 'vitest';
import { RotationRelayError } from '../../../src/common/errors.js';
import { describeRedisTarget, redisOptionsFromConfig, RedisTimeoutError, withRedisDeadline } from '../../../src/redis/connect.js';
import { tableOf } from '../../support/test-table.js';

describe('describeRedisTarget', () => {
  const password = 'p@ss:w/rd#Marker?';

  // Each row: a URL, the only target it may be described as, and the parts that must not survive.
  it.each(tableOf([
    {
      title: 'strips the user and password and keeps scheme, host and port',
      url: 'redis://user:pw-Marker-5150@host:6380/2',
      target: 'redis://host:6380',
      withheld: ['pw-Marker-5150', 'user'],
    },
    {
      title: 'strips an AUTH token given as a password with an empty user and defaults the port',
      url: 'rediss://:token-Marker-8e2d@host',
      target: 'rediss://host:6379',
      withheld: ['token-Marker-8e2d'],
    },
    {
      title: 'defaults the port to 6379 for a plain redis URL',
      url: 'redis://cache.internal',
      target: 'redis://cache.internal:6379',
      withheld: [],
    },
    {
      title: 'keeps an explicit port 6379 (the scheme has no default port of its own)',
      url: 'redis://cache.internal:6379',
      target: 'redis://cache.internal:6379',
      withheld: [],
    },
    {
      title: 'strips a token given in the user position',
      url: 'rediss://bare-Token-Marker-77@my-cache.xxxxxx.euw1.cache.amazonaws.com:6379',
      target: 'rediss://my-cache.xxxxxx.euw1.cache.amazonaws.com:6379',
      withheld: ['bare-Token-Marker-77'],
    },
    {
      title: 'never contains a percent-encoded password, raw or decoded',
      url: `redis://default:${encodeURIComponent(password)}@10.0.0.5:7000/0`,
      target: 'redis://10.0.0.5:7000',
      withheld: [encodeURIComponent(password), 'Marker'],
    },
    {
      title: 'drops the database, query and fragment',
      url: 'redis://host:6380/3?family=6#frag',
      target: 'redis://host:6380',
      withheld: [],
    },
    {
      title: 'keeps the brackets of an IPv6 host',
      url: 'redis://user:secret-Marker@[::1]:6390',
      target: 'redis://[::1]:6390',
      withheld: [],
    },
    {
      title: 'returns a fixed placeholder, not the input, when the URL does not parse',
      url: 'not a url with pw-Marker-0000',
      target: '(unparseable redis url)',
      withheld: ['pw-Marker-0000'],
    },
    {
      title: 'strips a password containing an unencoded @ (the last @ ends the credentials)',
      url: 'redis://app:p@ss-Marker-ab12@cache.internal:6381',
      target: 'redis://cache.internal:6381',
      withheld: ['Marker'],
    },
  ]))('%s', (_title, { url, target: expected, withheld }) => {
    // Act
    const target = describeRedisTarget(url);

    // Assess
    expect(target).toBe(expected);
    for (const part of withheld) expect(target).not.toContain(part);
  });
});

describe('redisOptionsFromConfig bounds', () => {
  const config = { url: 'redis://cache.internal:6379', cluster: false, keyPrefix: 'rotation-relay' };

  it('bounds every command, the TCP connect and a silent socket by commandTimeoutMs, and sets TCP keep-alive', () => {
    // Act
    const options = redisOptionsFromConfig(config, { connectionName: 'rotation-relay:listener', commandTimeoutMs: 1_500, keepAliveMs: 10_000 });

    // Assess
    expect(options).toMatchObject({ commandTimeout: 1_500, socketTimeout: 1_500, connectTimeout: 1_500, keepAlive: 10_000 });
  });

  it("turns ioredis' auto-resubscribe off with a bound: its SUBSCRIBE has no handler, and a timed-out one would crash the app", () => {
    // Act
    const bounded = redisOptionsFromConfig(config, { connectionName: 'rotation-relay:listener', commandTimeoutMs: 1_500 });
    const unbounded = redisOptionsFromConfig(config, { connectionName: 'rotation-relay:worker' });

    // Assess
    expect(bounded.autoResubscribe).toBe(false);
    expect(unbounded.autoResubscribe).toBeUndefined();
  });

  it("leaves ioredis' own timeouts alone when no bound is asked for (the worker and the CLI)", () => {
    // Act
    const options = redisOptionsFromConfig(config, { connectionName: 'rotation-relay:worker', offlineQueue: false });

    // Assess
    expect(options.commandTimeout).toBeUndefined();
    expect(options.socketTimeout).toBeUndefined();
    expect(options.connectTimeout).toBeUndefined();
    expect(options.keepAlive).toBeUndefined();
  });

  it('caps the reconnect backoff at 2 s by default, and at maxReconnectDelayMs when given', () => {
    // Act
    const byDefault = redisOptionsFromConfig(config, { connectionName: 'a' }).retryStrategy;
    const capped = redisOptionsFromConfig(config, { connectionName: 'a', maxReconnectDelayMs: 300 }).retryStrategy;

    // Assess
    expect([1, 2, 3, 5, 10].map((attempt) => byDefault?.(attempt))).toEqual([100, 200, 400, 1_600, 2_000]);
    expect([1, 2, 3, 10].map((attempt) => capped?.(attempt))).toEqual([100, 200, 300, 300]);
  });
});

describe('withRedisDeadline', () => {
  afterEach(() => vi.useRealTimers());

  it('rejects a call that never settles with RedisTimeoutError (code REDIS_TIMEOUT) naming the call and the bound', async () => {
    // Prepare
    vi.useFakeTimers();
    const never = new Promise<string>(() => undefined);

    // Act
    const bounded = withRedisDeadline(never, 1_000, 'reading the versions hash');
    const assertion = expect(bounded).rejects.toThrow(RedisTimeoutError);
    await vi.advanceTimersByTimeAsync(1_000);

    // Assess
    await assertion;
    const error = await bounded.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RotationRelayError);
    expect(error).toMatchObject({ code: 'REDIS_TIMEOUT', message: 'reading the versions hash timed out after 1000 ms' });
  });

  it('settles like the call when it settles in time', async () => {
    await expect(withRedisDeadline(Promise.resolve('OK'), 1_000, 'x')).resolves.toBe('OK');
    await expect(withRedisDeadline(Promise.reject(new Error('NOPERM')), 1_000, 'x')).rejects.toThrow('NOPERM');
  });
});
