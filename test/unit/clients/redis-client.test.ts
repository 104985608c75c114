import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidSecretShapeError } from '../../../src/sdk/rotating/errors.js';
import { createRotatingRedis, redisRotationStatus } from '../../../src/sdk/ioredis/redis-client.js';
import { redisCredentialsFromSecret } from '../../../src/sdk/ioredis/redis-credentials.js';
import { CredentialSourceDouble } from '../../support/credential-source-double.js';
import { waitUntil } from '../../support/wait-until.js';

const NAME = 'cache';
const clients: Array<Redis | Cluster> = [];

function track<C extends Redis | Cluster>(client: C): C {
  clients.push(client);
  return client;
}

afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

describe('redisCredentialsFromSecret: accepted secret shapes', () => {
  it.each([
    ['a plain string token', 'tok-1', undefined, { username: undefined, password: 'tok-1' }],
    ['a plain string with a user name from the options', 'tok-1', 'app', { username: 'app', password: 'tok-1' }],
    ['{ password }', { password: 'pw-1' }, undefined, { username: undefined, password: 'pw-1' }],
    ['{ authToken } (ElastiCache)', { authToken: 'tok-2' }, undefined, { username: undefined, password: 'tok-2' }],
    ['{ username, password } (ACL/RBAC user)', { username: 'u1', password: 'pw-2' }, 'ignored', { username: 'u1', password: 'pw-2' }],
    ['extra fields (user_arn)', { username: 'u1', password: 'pw-3', user_arn: 'arn:aws:elasticache:…' }, undefined, { username: 'u1', password: 'pw-3' }],
    ['{ password, authToken } holding the same value', { password: 'same', authToken: 'same' }, undefined, { username: undefined, password: 'same' }],
  ])('reads %s', (_label, value, fallback, expected) => {
    expect(redisCredentialsFromSecret(NAME, value, fallback)).toEqual(expected);
  });

  it.each([
    ['an empty string', '', undefined],
    ['a number', 42, undefined],
    ['null', null, undefined],
    ['an array', ['x'], undefined],
    ['an object without password or authToken', { username: 'u1' }, 'password'],
    ['a non-string password', { password: 12345678 }, 'password'],
    ['an empty password', { password: '' }, 'password'],
    ['a non-string username', { username: 7, password: 'sekrit-value' }, 'username'],
    ['a password and an authToken that differ', { password: 'sekrit-value', authToken: 'other-sekrit' }, 'authToken'],
  ])('rejects %s, naming the field and never the value', (_label, value, field) => {
    // Act
    let error: unknown;
    try {
      redisCredentialsFromSecret(NAME, value);
    } catch (err) {
      error = err;
    }

    // Assess
    expect(error).toBeInstanceOf(InvalidSecretShapeError);
    const shapeError = error as InvalidSecretShapeError;
    expect(shapeError.secretName).toBe(NAME);
    expect(shapeError.field).toBe(field);
    expect(shapeError.message).toContain(`secret "${NAME}"`);
    expect(shapeError.message).not.toMatch(/sekrit|12345678/);
  });
});

describe('createRotatingRedis (standalone, no network: lazyConnect)', () => {
  it('starts with the current secret in the ioredis options', () => {
    // Prepare
    const source = new CredentialSourceDouble(NAME, { username: 'app', password: 'pw-1' });

    // Act
    const client = track(createRotatingRedis(source, NAME, { lazyConnect: true, host: '127.0.0.1', port: 1 }));

    // Assess
    expect(client).toBeInstanceOf(Redis);
    expect(client.options.username).toBe('app');
    expect(client.options.password).toBe('pw-1');
    expect(client.status).toBe('wait');
  });

  it('puts the new password (and user) in the options on every rotated event', () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, { username: 'app', password: 'pw-1' });
    const client = track(createRotatingRedis(source, NAME, { lazyConnect: true }));

    // Act + Assess: a new password, then a new user (the alternating-users strategy)
    source.setCurrent({ username: 'app', password: 'pw-2' });
    expect(client.options.password).toBe('pw-1'); // not yet published: nothing changes
    source.publish();
    expect(client.options).toMatchObject({ username: 'app', password: 'pw-2' });

    source.setCurrent({ username: 'app-clone', password: 'pw-3' });
    source.publish();
    expect(client.options).toMatchObject({ username: 'app-clone', password: 'pw-3' });
    expect(redisRotationStatus(client)).toMatchObject({ secretName: NAME, versionId: 'v3', mode: 'current', switches: 2, queueKeepingHook: true });
  });

  it('uses the options user name for a bare token secret, and no user name when there is none', () => {
    // Prepare
    const withUser = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    const withoutUser = new CredentialSourceDouble<unknown>(NAME, { authToken: 'tok-1' });

    // Act
    const a = track(createRotatingRedis(withUser, NAME, { lazyConnect: true, username: 'rbac-user' }));
    const b = track(createRotatingRedis(withoutUser, NAME, { lazyConnect: true }));
    withUser.setCurrent('tok-2');
    withUser.publish();
    withoutUser.setCurrent({ authToken: 'tok-2' });
    withoutUser.publish();

    // Assess
    expect(a.options).toMatchObject({ username: 'rbac-user', password: 'tok-2' });
    expect(b.options.password).toBe('tok-2');
    expect(b.options.username).toBeUndefined();
  });

  it('keeps the working credentials when a new version is malformed', () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, { password: 'pw-1' });
    const client = track(createRotatingRedis(source, NAME, { lazyConnect: true }));

    // Act
    source.setCurrent({ passwd: 'typo' });
    source.publish();

    // Assess
    expect(client.options.password).toBe('pw-1');
    expect(redisRotationStatus(client)?.versionId).toBe('v1');
  });

  it('fails at creation with the field named when the current secret is malformed', () => {
    const source = new CredentialSourceDouble<unknown>(NAME, { username: 'app' });
    expect(() => createRotatingRedis(source, NAME, { lazyConnect: true })).toThrow(/secret "cache" field "password"/);
  });

  it('refuses a password in the options (it would be overwritten anyway)', () => {
    const source = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    const options = { lazyConnect: true, password: 'static' } as unknown as Parameters<typeof createRotatingRedis>[2];
    expect(() => createRotatingRedis(source, NAME, options)).toThrow(/do not pass `password`/);
  });

  it('stops following rotations once the client has ended, and resumes when it connects again', async () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    const client = createRotatingRedis(source, NAME, { lazyConnect: true, host: '127.0.0.1', port: 1, retryStrategy: () => null });
    client.on('error', () => {}); // ECONNREFUSED below is expected
    expect(source.listenerCount('rotated')).toBe(1);

    // Act
    client.disconnect();

    // Assess ('end' is emitted on the next tick)
    expect(client.status).toBe('end');
    await waitUntil(() => source.listenerCount('rotated') === 0, { message: 'the rotated listener to be removed on end' });

    // Act: a rotation while ended, then a reconnect catches up before logging in
    source.setCurrent('tok-2');
    source.publish();
    client.connect().catch(() => {});

    // Assess (the connection itself fails: nothing listens on port 1)
    await waitUntil(() => client.options.password === 'tok-2', { message: 'the client to catch up with the rotation it missed' });
    client.disconnect();
  });
});

describe('createRotatingRedis (cluster, no network: lazyConnect)', () => {
  it('returns an ioredis Cluster and updates the shared redisOptions template in place', () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, { username: 'app', password: 'pw-1' });
    const cluster = track(createRotatingRedis(source, NAME, { cluster: [{ host: '127.0.0.1', port: 7000 }], lazyConnect: true, redisOptions: { connectionName: 'test' } }));
    const template = cluster.options.redisOptions;

    // Act
    source.setCurrent({ username: 'app', password: 'pw-2' });
    source.publish();

    // Assess: same object (ioredis' connection pool holds a reference to it), new password
    expect(cluster).toBeInstanceOf(Cluster);
    expect(cluster.options.redisOptions).toBe(template);
    expect(template).toMatchObject({ username: 'app', password: 'pw-2', connectionName: 'test' });
  });
});
