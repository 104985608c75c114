import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allSettings, assertSigningChosen, loadRedisConfig, loadSigningConfig, loadWorkerConfig } from '../../../src/config/index.js';
import { DEFAULT_CLOCK_SKEW_TOLERANCE_MS } from '../../../src/protocol/signing.js';
import { createTempDir, type TempDir } from '../../support/temp-dir.js';
import { configErrorOf, MINIMAL_WORKER_ENV, TEST_SIGNING_KEY } from '../../support/worker-config.js';

const minimal = MINIMAL_WORKER_ENV;

describe('loadWorkerConfig', () => {
  it('applies every documented default when only the required variables are set', () => {
    const config = loadWorkerConfig(minimal);

    expect(config).toMatchObject({
      queueUrl: minimal.ROTATION_RELAY_QUEUE_URL,
      aws: { region: 'eu-west-1', customSqsEndpoint: false },
      redis: { url: 'redis://127.0.0.1:6379', cluster: false, keyPrefix: 'rotation-relay' },
      signing: { keys: [TEST_SIGNING_KEY], maxAgeMs: 300_000, clockSkewToleranceMs: 30_000, allowUnsigned: false },
      batchSize: 10,
      waitTimeSeconds: 20,
      visibilityTimeoutSeconds: 30,
      dedupeTtlSeconds: 86_400,
      healthPort: 8080,
      metrics: true,
      logLevel: 'info',
    });
  });

  it('names the variable and the expected form when a required one is missing', () => {
    const error = configErrorOf(() => loadWorkerConfig({ AWS_REGION: 'eu-west-1' }));

    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.variable).toBe('ROTATION_RELAY_QUEUE_URL');
    expect(error.message).toMatch(/^ROTATION_RELAY_QUEUE_URL: expected an SQS queue URL .* \(it is not set\)$/);
    expect(error.message.split('\n')).toHaveLength(1);
  });

  it('rejects a number out of range with the range in the message', () => {
    const error = configErrorOf(() => loadWorkerConfig({ ...minimal, ROTATION_RELAY_BATCH_SIZE: '11' }));

    expect(error.message).toBe('ROTATION_RELAY_BATCH_SIZE: expected a whole number from 1 to 10');
  });

  it('rejects a non-numeric value for a number', () => {
    const error = configErrorOf(() => loadWorkerConfig({ ...minimal, ROTATION_RELAY_HEALTH_PORT: '80a' }));

    expect(error.variable).toBe('ROTATION_RELAY_HEALTH_PORT');
  });

  it('accepts AWS_DEFAULT_REGION when AWS_REGION is unset and fails naming AWS_REGION when neither is', () => {
    const { AWS_REGION: _omit, ...withoutRegion } = minimal;

    expect(loadWorkerConfig({ ...withoutRegion, AWS_DEFAULT_REGION: 'us-east-2' }).aws.region).toBe('us-east-2');
    expect(configErrorOf(() => loadWorkerConfig(withoutRegion)).variable).toBe('AWS_REGION');
  });

  it('marks a custom SQS endpoint so the consumer does not use the queue URL host', () => {
    const config = loadWorkerConfig({ ...minimal, AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' });

    expect(config.aws.customSqsEndpoint).toBe(true);
  });

  it('rejects a redis URL with the wrong scheme and a boolean it cannot read', () => {
    expect(configErrorOf(() => loadWorkerConfig({ ...minimal, ROTATION_RELAY_REDIS_URL: 'http://x' })).variable).toBe(
      'ROTATION_RELAY_REDIS_URL',
    );
    expect(configErrorOf(() => loadWorkerConfig({ ...minimal, ROTATION_RELAY_METRICS: 'maybe' })).message).toBe(
      'ROTATION_RELAY_METRICS: expected true or false',
    );
  });

  it('rejects a key prefix that would break the Redis hash tag', () => {
    expect(configErrorOf(() => loadWorkerConfig({ ...minimal, ROTATION_RELAY_KEY_PREFIX: 'a{b}' })).variable).toBe(
      'ROTATION_RELAY_KEY_PREFIX',
    );
  });
});

describe('loadSigningConfig', () => {
  const key = 'k'.repeat(32);

  it('splits the list keeping the current key first', () => {
    const other = 'o'.repeat(40);

    expect(loadSigningConfig({ ROTATION_RELAY_SIGNING_KEYS: ` ${key} , ${other}` }).keys).toEqual([key, other]);
  });

  it('rejects a short key by position without echoing any key', () => {
    const short = 'short-secret-key';

    const error = configErrorOf(() => loadSigningConfig({ ROTATION_RELAY_SIGNING_KEYS: `${key},${short}` }));

    expect(error.message).toContain('key 2 of 2 is too short');
    expect(error.message).not.toContain(short);
    expect(error.message).not.toContain(key);
  });
});

describe('loadSigningConfig: key list rules', () => {
  const keyA = 'a'.repeat(32);
  const keyB = 'b'.repeat(48);

  it.each([
    ['an entry is empty', `${keyA},,${keyB}`, 'key 2 of 3 is empty'],
    ['a key is shorter than 32 bytes', `${keyA},short-secret-SENTINEL`, 'key 2 of 2 is too short'],
  ])('rejects the list when %s, naming the variable but never a key', (_label, value, problem) => {
    const error = configErrorOf(() => loadSigningConfig({ ROTATION_RELAY_SIGNING_KEYS: value }));

    expect(error.variable).toBe('ROTATION_RELAY_SIGNING_KEYS');
    expect(error.message).toContain('at least 32 bytes');
    expect(error.message).toContain(problem);
    expect(error.message).not.toContain('SENTINEL');
    expect(error.message).not.toContain(keyA);
  });

  it('counts bytes, not characters, for a non-ASCII key', () => {
    const key = 'é'.repeat(16);

    expect(loadSigningConfig({ ROTATION_RELAY_SIGNING_KEYS: key }).keys).toEqual([key]);
  });

  it('turns signing off when the variable is unset', () => {
    expect(loadSigningConfig({}).keys).toEqual([]);
  });

  it('refuses a blank variable instead of turning signing off (a failed "$(cat keyfile)" looks like that)', () => {
    const error = configErrorOf(() => loadSigningConfig({ ROTATION_RELAY_SIGNING_KEYS: '  ' }));

    expect(error.variable).toBe('ROTATION_RELAY_SIGNING_KEYS');
    expect(error.message).toContain('(it is set but empty; unset it instead)');
  });
});

describe('signing is required (ROTATION_RELAY_ALLOW_UNSIGNED)', () => {
  const { ROTATION_RELAY_SIGNING_KEYS: _key, ...withoutKeys } = minimal;

  it('refuses a worker without keys, naming both variables and how to make a key, on one line', () => {
    // Act
    const error = configErrorOf(() => loadWorkerConfig(withoutKeys));

    // Assess
    expect(error.variable).toBe('ROTATION_RELAY_SIGNING_KEYS');
    expect(error.message).toMatch(/^ROTATION_RELAY_SIGNING_KEYS: expected .*generate one with `openssl rand -base64 48`/);
    expect(error.message).toContain('set ROTATION_RELAY_ALLOW_UNSIGNED=true');
    expect(error.message.split('\n')).toHaveLength(1);
  });

  it.each(['false', '0', 'no', 'off'])('still refuses with ROTATION_RELAY_ALLOW_UNSIGNED=%s', (value) => {
    expect(configErrorOf(() => loadWorkerConfig({ ...withoutKeys, ROTATION_RELAY_ALLOW_UNSIGNED: value })).variable).toBe('ROTATION_RELAY_SIGNING_KEYS');
  });

  it.each(['true', '1', 'yes', 'on'])('starts unsigned only when asked for (ROTATION_RELAY_ALLOW_UNSIGNED=%s)', (value) => {
    expect(loadWorkerConfig({ ...withoutKeys, ROTATION_RELAY_ALLOW_UNSIGNED: value }).signing).toMatchObject({ keys: [], allowUnsigned: true });
  });

  it('refuses a value that is not a boolean, naming the variable (exit 2 in the CLI)', () => {
    // Act
    const error = configErrorOf(() => loadWorkerConfig({ ...withoutKeys, ROTATION_RELAY_ALLOW_UNSIGNED: 'please' }));

    // Assess
    expect(error.variable).toBe('ROTATION_RELAY_ALLOW_UNSIGNED');
    expect(error.message).toBe('ROTATION_RELAY_ALLOW_UNSIGNED: expected true or false');
  });

  it('keeps signing when keys are set, whatever the opt-in says', () => {
    expect(loadWorkerConfig({ ...minimal, ROTATION_RELAY_ALLOW_UNSIGNED: 'true' }).signing.keys).toEqual([TEST_SIGNING_KEY]);
  });

  it('names the way a command takes the opt-in when given one', () => {
    // Act
    const error = configErrorOf(() => assertSigningChosen(loadSigningConfig({}), 'ROTATION_RELAY_ALLOW_UNSIGNED=true or pass --allow-unsigned'));

    // Assess
    expect(error.message).toContain('set ROTATION_RELAY_ALLOW_UNSIGNED=true or pass --allow-unsigned)');
  });
});

describe('ROTATION_RELAY_CLOCK_SKEW_TOLERANCE_MS', () => {
  it("defaults to the protocol's tolerance", () => {
    expect(DEFAULT_CLOCK_SKEW_TOLERANCE_MS).toBe(30_000);
    expect(loadSigningConfig({}).clockSkewToleranceMs).toBe(DEFAULT_CLOCK_SKEW_TOLERANCE_MS);
  });

  it.each([['0', 0], ['180000', 180_000]])('reads %s ms', (value, expected) => {
    expect(loadWorkerConfig({ ...minimal, ROTATION_RELAY_CLOCK_SKEW_TOLERANCE_MS: value }).signing.clockSkewToleranceMs).toBe(expected);
  });

  it.each(['-1', '1.5', '30s', '86400001'])('refuses %s, naming the variable and the range', (value) => {
    // Act
    const error = configErrorOf(() => loadSigningConfig({ ROTATION_RELAY_CLOCK_SKEW_TOLERANCE_MS: value }));

    // Assess
    expect(error.message).toBe('ROTATION_RELAY_CLOCK_SKEW_TOLERANCE_MS: expected a whole number from 0 to 86400000');
  });
});

describe('loadRedisConfig: URL form', () => {
  it.each(['redis://127.0.0.1:6379', 'rediss://user:p%40ss@cache.example.com:6380/2', 'redis://:token@h', 'redis://[::1]:6379'])(
    'accepts %s',
    (url) => {
      expect(loadWorkerConfig({ ...minimal, ROTATION_RELAY_REDIS_URL: url }).redis.url).toBe(url);
    },
  );

  it('refuses a password with an unencoded slash instead of mis-splitting it, without echoing it', () => {
    const error = configErrorOf(() => loadWorkerConfig({ ...minimal, ROTATION_RELAY_REDIS_URL: 'redis://default:12/34@host' }));

    expect(error.message).toContain('percent-encoded');
    expect(error.message).not.toContain('12/34');
  });
});

describe('loadRedisConfig: a URL the pattern allows but a connection cannot use', () => {
  it.each([
    ['redis://127.0.0.1:99999', 'its port must be from 1 to 65535'],
    ['rediss://user:p%40ss@cache.example.com:65536/0', 'its port must be from 1 to 65535'],
    ['redis://127.0.0.1:0', 'its port must be from 1 to 65535'],
  ])('refuses %s naming the variable and the problem, without the password', (url, problem) => {
    const error = configErrorOf(() => loadRedisConfig({ ROTATION_RELAY_REDIS_URL: url }));

    expect(error.variable).toBe('ROTATION_RELAY_REDIS_URL');
    expect(error.message).toMatch(new RegExp(`^ROTATION_RELAY_REDIS_URL: expected a redis:// or rediss:// URL .*\\(${problem}\\)$`));
    expect(error.message).not.toContain('p%40ss');
  });

  it('does not take digits of a password for the port', () => {
    expect(loadRedisConfig({ ROTATION_RELAY_REDIS_URL: 'redis://user:99999@127.0.0.1:6379' }).url).toBe('redis://user:99999@127.0.0.1:6379');
  });

  it('checks the endpoint and queue URLs the same way', () => {
    expect(configErrorOf(() => loadWorkerConfig({ ...minimal, AWS_ENDPOINT_URL: 'http://127.0.0.1:70000' })).message).toBe(
      'AWS_ENDPOINT_URL: expected an http(s) URL such as http://127.0.0.1:5000 (its port must be from 1 to 65535)',
    );
    expect(configErrorOf(() => loadWorkerConfig({ ...minimal, ROTATION_RELAY_QUEUE_URL: 'https://sqs:123456/1/q' })).variable).toBe('ROTATION_RELAY_QUEUE_URL');
  });
});

describe('loadRedisConfig: ROTATION_RELAY_REDIS_TLS_CA_FILE', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await createTempDir('rr-config-ca-');
  });
  afterAll(async () => dir?.remove());
  const file = async (name: string, text: string): Promise<string> => {
    const path = join(dir.path, name);
    writeFileSync(path, text);
    return path;
  };
  const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

  it('accepts a readable PEM file with a rediss:// URL', async () => {
    const ca = await file('ca.pem', PEM);

    expect(loadRedisConfig({ ROTATION_RELAY_REDIS_URL: 'rediss://h:6380', ROTATION_RELAY_REDIS_TLS_CA_FILE: ca }).tlsCaFile).toBe(ca);
  });

  it('names the variable, the file and the errno when the file cannot be read', () => {
    const error = configErrorOf(() => loadRedisConfig({ ROTATION_RELAY_REDIS_URL: 'rediss://h:6380', ROTATION_RELAY_REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' }));

    expect(error.variable).toBe('ROTATION_RELAY_REDIS_TLS_CA_FILE');
    expect(error.message).toBe(
      'ROTATION_RELAY_REDIS_TLS_CA_FILE: expected a readable PEM file of the CA that signed the Redis server certificate (cannot read /nonexistent/ca.pem: ENOENT)',
    );
  });

  it('refuses a file that holds no certificate', async () => {
    const notPem = await file('hostname', 'my-host\n');

    const error = configErrorOf(() => loadRedisConfig({ ROTATION_RELAY_REDIS_URL: 'rediss://h:6380', ROTATION_RELAY_REDIS_TLS_CA_FILE: notPem }));

    expect(error.message).toContain('holds no "-----BEGIN CERTIFICATE-----" block');
  });

  it('refuses a CA file with a plain redis:// URL, which would connect without TLS', async () => {
    const ca = await file('ca2.pem', PEM);

    const error = configErrorOf(() => loadRedisConfig({ ROTATION_RELAY_REDIS_URL: 'redis://h:6379', ROTATION_RELAY_REDIS_TLS_CA_FILE: ca }));

    expect(error.variable).toBe('ROTATION_RELAY_REDIS_TLS_CA_FILE');
    expect(error.message).toContain('the connection would not use TLS at all');
  });
});

describe('an empty variable is an error, never the default', () => {
  it('refuses ROTATION_RELAY_REDIS_URL="" instead of connecting to redis://127.0.0.1:6379', () => {
    const error = configErrorOf(() => loadRedisConfig({ ROTATION_RELAY_REDIS_URL: '' }));

    expect(error.variable).toBe('ROTATION_RELAY_REDIS_URL');
    expect(error.message).toMatch(/\(it is set but empty; unset it to use the default, redis:\/\/127\.0\.0\.1:6379\)$/);
  });

  // Every setting, of every kind (number, boolean, enum, string with a default, optional, required).
  it.each(allSettings().map(({ setting }) => setting.name))('%s set to "" or "  " fails naming it, on one line', (name) => {
    for (const blank of ['', '  ']) {
      const error = configErrorOf(() => loadWorkerConfig({ ...minimal, [name]: blank }));

      expect(error.variable).toBe(name);
      expect(error.message).toMatch(new RegExp(`^${name}: expected .*\\(it is set but empty(; unset it [^)]*)?\\)$`));
      expect(error.message.split('\n')).toHaveLength(1);
    }
  });
});
